import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxis, sizeOf, type Shape } from '../tensor/shape.js';
import { describeList, describeValue } from '../validate.js';
import { permute as permuteKernel } from './kernels.js';

/*
 * Ops that move values without changing them. reshape, squeeze, unsqueeze and flatten only
 * relabel the axes of the same row-major data, so they share one definition (a "view"); the
 * node keeps the name the user called, so pictures say `unsqueeze`, not `reshape`.
 */

type ViewAttrs = { readonly shape: Shape };

function viewOp(name: string, label: (attrs: ViewAttrs) => string = () => name): OpDefinition<ViewAttrs> {
  return {
    name,
    inputNames: ['x'],
    label,
    formula: ({ plain, grad }) => [`${grad} reshaped to the shape of ${plain.inputs[0]}`],
    // Shares x's data: kernels never write their inputs, so a view costs no copy.
    forward: ([x], { shape }) => ({ data: x.storage, shape }),
    backward: ({ inputs: [x] }, g) => [g.reshape(x.shape)],
  };
}

const reshapeOp = viewOp('reshape');
const squeezeOp = viewOp('squeeze');
const unsqueezeOp = viewOp('unsqueeze');
const flattenOp = viewOp('flatten');

/** A new shape with the same number of elements; one axis may be -1 to be inferred. */
export function reshape(x: TensorLike, shape: Shape): Tensor {
  const input = toTensor('reshape', 'x', x);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new Error(`reshape: shape must be an array of integers (-1 allowed once), got ${describeList(shape)}`);
  }
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new Error(`reshape: only one axis can be -1, got ${formatShape(shape)}`);
  const known = sizeOf(shape.filter((d) => d !== -1));
  let resolved: number[] = [...shape];
  if (inferred === 1) {
    if (known === 0 || input.size % known !== 0) {
      throw new Error(`reshape: cannot reshape x of shape ${formatShape(input.shape)} (${input.size} elements) to ${formatShape(shape)}`);
    }
    resolved = shape.map((d) => (d === -1 ? input.size / known : d));
  }
  if (sizeOf(resolved) !== input.size) {
    throw new Error(`reshape: cannot reshape x of shape ${formatShape(input.shape)} (${input.size} elements) to ${formatShape(shape)} (${sizeOf(resolved)} elements)`);
  }
  return applyOp(reshapeOp, [input], { shape: resolved });
}

/**
 * Removes size-1 axes: all of them, or only `axis` (a number or a list). As in PyTorch, an
 * axis whose size is not 1 is left as it is rather than being an error.
 */
export function squeeze(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const input = toTensor('squeeze', 'x', x);
  const asked = axis === undefined ? input.shape.map((_, i) => i)
    // A 0-d tensor takes axis 0 or -1, as in PyTorch, and stays as it is.
    : (typeof axis === 'number' ? [axis] : expectAxisList('squeeze', axis)).map((a) => normalizeAxis('squeeze', 'axis', a, Math.max(1, input.ndim)));
  const shape = input.shape.filter((d, i) => !(d === 1 && asked.includes(i)));
  return applyOp(squeezeOp, [input], { shape });
}

/** Inserts a size-1 axis at `axis` (from -ndim-1 to ndim, as in PyTorch). */
export function unsqueeze(x: TensorLike, axis: number): Tensor {
  const input = toTensor('unsqueeze', 'x', x);
  if (typeof axis === 'number' && Number.isInteger(axis) && (axis < -input.ndim - 1 || axis > input.ndim)) {
    throw new Error(`unsqueeze: axis ${axis} is out of range for x of shape ${formatShape(input.shape)} (valid: ${-input.ndim - 1} to ${input.ndim})`);
  }
  const at = normalizeAxis('unsqueeze', 'axis', axis, input.ndim + 1);
  const shape = [...input.shape.slice(0, at), 1, ...input.shape.slice(at)];
  return applyOp(unsqueezeOp, [input], { shape });
}

/** Merges the axes from `startAxis` to `endAxis` (inclusive, negative allowed) into one. */
export function flatten(x: TensorLike, startAxis = 0, endAxis = -1): Tensor {
  const input = toTensor('flatten', 'x', x);
  // PyTorch flattens a 0-d tensor to shape [1].
  if (input.ndim === 0) return applyOp(flattenOp, [input], { shape: [1] });
  const start = normalizeAxis('flatten', 'startAxis', startAxis, input.ndim);
  const end = normalizeAxis('flatten', 'endAxis', endAxis, input.ndim);
  if (start > end) {
    throw new Error(`flatten: startAxis (${startAxis}, axis ${start}) must not come after endAxis (${endAxis}, axis ${end}) for x of shape ${formatShape(input.shape)}`);
  }
  const shape = [...input.shape.slice(0, start), sizeOf(input.shape.slice(start, end + 1)), ...input.shape.slice(end + 1)];
  return applyOp(flattenOp, [input], { shape });
}

function expectAxisList(fn: string, axes: unknown): readonly number[] {
  if (!Array.isArray(axes)) throw new Error(`${fn}: axes must be an array of integers, got ${describeValue(axes)}`);
  return axes as readonly number[];
}

const permuteOp: OpDefinition<{ perm: readonly number[] }> = {
  name: 'transpose',
  inputNames: ['x'],
  label: ({ perm }) => (perm.length === 2 ? 'transpose' : `transpose ${formatShape(perm)}`),
  formula: ({ grad }, { perm }) => [perm.length === 2 ? `${grad}ᵀ` : `${grad} transposed back`],
  forward: ([x], { perm }) => ({ data: permuteKernel(x.storage, x.shape, perm), shape: perm.map((axis) => x.shape[axis]) }),
  backward: ({ attrs: { perm } }, g) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((axis, i) => (inverse[axis] = i));
    return [g.permute(inverse)];
  },
};

/** Reorders the axes: axis i of the result is axis `axes[i]` of x (negative allowed), as PyTorch's `permute`. */
export function permute(x: TensorLike, axes: readonly number[]): Tensor {
  const input = toTensor('permute', 'x', x);
  return applyOp(permuteOp, [input], { perm: checkPermutation('permute', input, axes) });
}

function checkPermutation(fn: string, input: Tensor, axes: readonly number[]): number[] {
  const nd = input.ndim;
  const list = expectAxisList(fn, axes);
  const perm = list.map((a) => (Number.isInteger(a) && a < 0 ? a + nd : a));
  const isPermutation = perm.length === nd && perm.every((a) => Number.isInteger(a) && a >= 0 && a < nd) && new Set(perm).size === nd;
  if (!isPermutation) {
    throw new Error(`${fn}: axes ${describeList(axes)} are not a permutation of the ${nd} axes of x (shape ${formatShape(input.shape)})`);
  }
  return perm;
}

/**
 * PyTorch's form, `transpose(x, axis0, axis1)`, swaps two axes. NumPy's forms are kept:
 * `transpose(x, axes)` with a list is `permute`, and `transpose(x)` reverses the axes.
 */
export function transpose(x: TensorLike, axis0?: number | readonly number[], axis1?: number): Tensor {
  const input = toTensor('transpose', 'x', x);
  const nd = input.ndim;
  if (axis0 === undefined && axis1 === undefined) {
    return applyOp(permuteOp, [input], { perm: Array.from({ length: nd }, (_, i) => nd - 1 - i) });
  }
  if (Array.isArray(axis0)) {
    if (axis1 !== undefined) throw new Error(`transpose: with a list of axes there is no second argument, got ${describeValue(axis1)}`);
    return applyOp(permuteOp, [input], { perm: checkPermutation('transpose', input, axis0) });
  }
  if (typeof axis0 !== 'number' || axis1 === undefined) {
    throw new Error(`transpose: give two axes to swap, transpose(x, axis0, axis1), or a list of all axes; got axis0 ${describeValue(axis0)} and axis1 ${describeValue(axis1)}`);
  }
  const first = normalizeAxis('transpose', 'axis0', axis0, nd);
  const second = normalizeAxis('transpose', 'axis1', axis1, nd);
  const perm = Array.from({ length: nd }, (_, i) => i);
  perm[first] = second;
  perm[second] = first;
  return applyOp(permuteOp, [input], { perm });
}

/** Swaps the last two axes: the matrix transpose of each matrix in a batch. */
export function swapLastTwo(x: Tensor): Tensor {
  return transpose(x, -2, -1);
}

const cloneOp: OpDefinition = {
  name: 'clone',
  inputNames: ['x'],
  formula: ({ grad }) => [grad],
  forward: ([x]) => ({ data: Float64Array.from(x.storage), shape: x.shape }),
  backward: (_ctx, g) => [g],
};

/** A copy of x with data of its own, recorded like any op (gradient passes through unchanged). */
export function clone(x: TensorLike): Tensor {
  return applyOp(cloneOp, [toTensor('clone', 'x', x)], undefined);
}
