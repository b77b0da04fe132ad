import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { allocate } from '../tensor/allocation.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, formatShape, type Shape } from '../tensor/shape.js';
import { unbroadcast } from './broadcast.js';
import { matmulKernel, stridedOffsets } from './kernels.js';
import { swapLastTwo } from './shape.js';

/** Offset of each matrix of `shape` when its batch axes are broadcast to `batch`. */
function batchOffsets(shape: Shape, batch: Shape): Float64Array {
  const matrix = shape[shape.length - 2] * shape[shape.length - 1];
  const strides = broadcastStrides(shape.slice(0, -2), batch).map((stride) => stride * matrix);
  return stridedOffsets(batch, strides);
}

const matmulOp: OpDefinition = {
  name: 'matmul',
  label: '@',
  inputNames: ['a', 'b'],
  forward([a, b]) {
    const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2), ['the batch axes of a', 'the batch axes of b']);
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.ndim - 1];
    const shape = [...batch, m, n];
    // Refused before the batch offsets are worked out, which can be as many as the result's matrices.
    const out = allocate('matmul', shape);
    const data = matmulKernel(a.storage, batchOffsets(a.shape, batch), b.storage, batchOffsets(b.shape, batch), m, k, n, out);
    return { data, shape };
  },
  backward({ inputs: [a, b], needsInputGrad }, g) {
    return [
      needsInputGrad[0] ? unbroadcast(g.matmul(swapLastTwo(b)), a.shape) : null,
      needsInputGrad[1] ? unbroadcast(swapLastTwo(a).matmul(g), b.shape) : null,
    ];
  },
};

/** Matrix product of the last two axes, broadcasting any leading (batch) axes. Both need 2 or more axes. */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const left = toTensor('matmul', 'a', a);
  const right = toTensor('matmul', 'b', b);
  if (left.ndim < 2 || right.ndim < 2) {
    throw new Error(`matmul: both arguments need at least 2 axes, got a of shape ${formatShape(left.shape)} and b of shape ${formatShape(right.shape)} (reshape a vector to [1, n] or [n, 1])`);
  }
  const k = left.shape[left.ndim - 1];
  if (right.shape[right.ndim - 2] !== k) {
    throw new Error(`matmul: a of shape ${formatShape(left.shape)} and b of shape ${formatShape(right.shape)} do not chain: the last axis of a (${k}) must equal the second-to-last axis of b (${right.shape[right.ndim - 2]})`);
  }
  return applyOp(matmulOp, [left, right], undefined);
}
