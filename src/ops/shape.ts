import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { formatShape, sizeOf, type Shape } from '../tensor/shape.js';
import { permute } from './kernels.js';

/* Ops that move values without changing them: reshape and transpose. */

const reshapeOp: OpDefinition<{ shape: Shape }> = {
  name: 'reshape',
  inputNames: ['x'],
  // Shares x's data: kernels never write their inputs, so a reshape costs no copy.
  forward: ([x], { shape }) => ({ data: x.storage, shape }),
  backward: ({ inputs: [x] }, g) => [g.reshape(x.shape)],
};

/** A new shape with the same number of elements; one axis may be -1 to be inferred. */
export function reshape(x: TensorLike, shape: Shape): Tensor {
  const input = toTensor('reshape', 'x', x);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new Error(`reshape: shape must be an array of integers (-1 allowed once), got ${JSON.stringify(shape)}`);
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

const transposeOp: OpDefinition<{ perm: readonly number[] }> = {
  name: 'transpose',
  inputNames: ['x'],
  label: ({ perm }) => (perm.length === 2 ? 'transpose' : `transpose ${formatShape(perm)}`),
  forward: ([x], { perm }) => ({ data: permute(x.storage, x.shape, perm), shape: perm.map((axis) => x.shape[axis]) }),
  backward: ({ attrs: { perm } }, g) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((axis, i) => (inverse[axis] = i));
    return [g.transpose(inverse)];
  },
};

/** Permutes axes like NumPy's `transpose`: `axes[i]` is the input axis that becomes axis i. Default: reverse them. */
export function transpose(x: TensorLike, axes?: readonly number[]): Tensor {
  const input = toTensor('transpose', 'x', x);
  const nd = input.ndim;
  const perm = axes === undefined ? Array.from({ length: nd }, (_, i) => nd - 1 - i) : axes.map((a) => (a < 0 ? a + nd : a));
  const isPermutation = perm.length === nd && perm.every((a) => Number.isInteger(a) && a >= 0 && a < nd) && new Set(perm).size === nd;
  if (!isPermutation) {
    throw new Error(`transpose: axes ${JSON.stringify(axes)} are not a permutation of the ${nd} axes of x (shape ${formatShape(input.shape)})`);
  }
  return applyOp(transposeOp, [input], { perm });
}

/** Swaps the last two axes: the matrix transpose of each matrix in a batch. */
export function swapLastTwo(x: Tensor): Tensor {
  const perm = Array.from({ length: x.ndim }, (_, i) => i);
  perm[x.ndim - 2] = x.ndim - 1;
  perm[x.ndim - 1] = x.ndim - 2;
  return x.transpose(perm);
}
