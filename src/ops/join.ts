import { allocate } from '../tensor/allocation.js';
import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxis, sizeOf, type Shape } from '../tensor/shape.js';
import { describeList, describeValue, expectInteger } from '../validate.js';
import { unsqueeze } from './shape.js';

/*
 * Joining and slicing along one axis. cat's gradient is a narrow of g for each input, and
 * narrow's gradient is g padded with zeros by cat: each is the other's adjoint, so both can be
 * differentiated any number of times.
 */

/** A tensor seen as [outer, size along axis, inner], so one axis can be copied in blocks. */
function blocks(shape: Shape, axis: number): { outer: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), inner: sizeOf(shape.slice(axis + 1)) };
}

const catOp: OpDefinition<{ axis: number; label: string }> = {
  name: 'cat',
  label: ({ label }) => label,
  formula: ({ plain, grad }) => plain.inputs.map((input) => `the slice of ${grad} where ${input} was placed`),
  forward(inputs, { axis, label }) {
    const total = inputs.reduce((n, t) => n + t.shape[axis], 0);
    const shape = [...inputs[0].shape];
    shape[axis] = total;
    const { outer, inner } = blocks(shape, axis);
    // The label is the function called, cat or stack: the one to name if the result is too large.
    const out = allocate(label, shape);
    let offset = 0;
    for (const t of inputs) {
      const run = t.shape[axis] * inner;
      for (let o = 0; o < outer; o++) out.set(t.storage.subarray(o * run, (o + 1) * run), o * total * inner + offset);
      offset += run;
    }
    return { data: out, shape };
  },
  backward({ inputs, attrs: { axis }, needsInputGrad }, g) {
    let start = 0;
    return inputs.map((t, i) => {
      const piece = needsInputGrad[i] ? narrow(g, axis, start, t.shape[axis]) : null;
      start += t.shape[axis];
      return piece;
    });
  },
};

function expectTensorList(fn: string, tensors: unknown): Tensor[] {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new Error(`${fn}: tensors must be a non-empty array of tensors, got ${describeValue(tensors)}`);
  }
  return tensors.map((t: TensorLike, i) => toTensor(fn, `tensors[${i}]`, t));
}

function joinAlong(fn: string, inputs: Tensor[], axis: number, label: string): Tensor {
  const first = inputs[0];
  inputs.forEach((t, i) => {
    const same = t.ndim === first.ndim && t.shape.every((d, j) => j === axis || d === first.shape[j]);
    if (!same) {
      throw new Error(`${fn}: tensors[${i}] has shape ${formatShape(t.shape)} but tensors[0] has shape ${formatShape(first.shape)}; they must match except along axis ${axis}`);
    }
  });
  return applyOp(catOp, inputs, { axis, label });
}

/** Joins tensors along an existing axis (default 0); they must match on every other axis. */
export function cat(tensors: readonly TensorLike[], axis = 0): Tensor {
  const inputs = expectTensorList('cat', tensors);
  if (inputs[0].ndim === 0) throw new Error('cat: tensors[0] is 0-d (a scalar) and has no axis to join along; use stack');
  return joinAlong('cat', inputs, normalizeAxis('cat', 'axis', axis, inputs[0].ndim), 'cat');
}

/** Joins tensors of one shape along a new axis `axis` (default 0). */
export function stack(tensors: readonly TensorLike[], axis = 0): Tensor {
  const inputs = expectTensorList('stack', tensors);
  const first = inputs[0];
  inputs.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((d, j) => d !== first.shape[j])) {
      throw new Error(`stack: tensors[${i}] has shape ${formatShape(t.shape)} but tensors[0] has shape ${formatShape(first.shape)}; all must have the same shape`);
    }
  });
  const at = normalizeAxis('stack', 'axis', axis, first.ndim + 1);
  return joinAlong('stack', inputs.map((t) => unsqueeze(t, at)), at, 'stack');
}

const narrowOp: OpDefinition<{ axis: number; start: number; length: number }> = {
  name: 'narrow',
  inputNames: ['x'],
  label: ({ axis, start, length }) => `narrow axis ${axis} [${start}, ${start + length})`,
  formula: ({ grad }, { axis, start, length }) => [`${grad} placed at [${start}, ${start + length}) of axis ${axis}, 0 elsewhere`],
  forward([x], { axis, start, length }) {
    const shape = [...x.shape];
    shape[axis] = length;
    const { outer, inner } = blocks(x.shape, axis);
    const run = length * inner;
    const out = new Float64Array(outer * run);
    for (let o = 0; o < outer; o++) {
      const from = (o * x.shape[axis] + start) * inner;
      out.set(x.storage.subarray(from, from + run), o * run);
    }
    return { data: out, shape };
  },
  backward({ inputs: [x], attrs: { axis, start, length } }, g) {
    const zeros = (size: number) => {
      const shape = [...x.shape];
      shape[axis] = size;
      return new Tensor(new Float64Array(sizeOf(shape)), shape);
    };
    const after = x.shape[axis] - start - length;
    const pieces = [...(start > 0 ? [zeros(start)] : []), g, ...(after > 0 ? [zeros(after)] : [])];
    return [pieces.length === 1 ? g : cat(pieces, axis)];
  },
};

/** The slice `start` to `start + length` of x along `axis` (a copy), as PyTorch's `narrow`. */
export function narrow(x: TensorLike, axis: number, start: number, length: number): Tensor {
  const input = toTensor('narrow', 'x', x);
  const at = normalizeAxis('narrow', 'axis', axis, input.ndim);
  const size = input.shape[at];
  // PyTorch allows a negative start, counted from the end.
  const from = expectInteger('narrow', 'start', start, { min: -size, max: size });
  const first = from < 0 ? from + size : from;
  expectInteger('narrow', 'length', length, { min: 0, max: size - first });
  return applyOp(narrowOp, [input], { axis: at, start: first, length });
}

/**
 * Splits x along `axis` (default 0) into pieces of `sizes` each (the last one smaller if need
 * be), or into pieces of the listed sizes, which must add up to the axis's size.
 */
export function split(x: TensorLike, sizes: number | readonly number[], axis = 0): Tensor[] {
  const input = toTensor('split', 'x', x);
  const at = normalizeAxis('split', 'axis', axis, input.ndim);
  const size = input.shape[at];
  let lengths: number[];
  if (typeof sizes === 'number') {
    const step = expectInteger('split', 'sizes', sizes, { min: size === 0 ? 0 : 1 });
    lengths = [];
    for (let start = 0; start < size; start += step) lengths.push(Math.min(step, size - start));
    if (lengths.length === 0) lengths.push(0);
  } else if (Array.isArray(sizes)) {
    lengths = sizes.map((s, i) => expectInteger('split', `sizes[${i}]`, s, { min: 0 }));
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total !== size) {
      throw new Error(`split: sizes ${describeList(sizes)} add up to ${total}, but axis ${at} of x (shape ${formatShape(input.shape)}) has size ${size}`);
    }
  } else {
    throw new Error(`split: sizes must be a positive integer or an array of integers, got ${describeValue(sizes)}`);
  }
  let start = 0;
  return lengths.map((length) => {
    const piece = narrow(input, at, start, length);
    start += length;
    return piece;
  });
}
