import { isGradEnabled } from '../autograd/mode.js';
import { applyOp, toTensor, type OpDefinition, type RawTensor } from '../autograd/op.js';
import { allocate } from '../tensor/allocation.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, formatShape, type Shape } from '../tensor/shape.js';
import { unbroadcast } from './broadcast.js';
import { stridedOffsets } from './kernels.js';
import { matmulInto } from './matmul-kernels.js';
import { squeeze, swapLastTwo, unsqueeze } from './shape.js';

/** Offset of each matrix of `shape` when its batch axes are broadcast to `batch`. */
function batchOffsets(shape: Shape, batch: Shape): Float64Array {
  const matrix = shape[shape.length - 2] * shape[shape.length - 1];
  const strides = broadcastStrides(shape.slice(0, -2), batch).map((stride) => stride * matrix);
  return stridedOffsets(batch, strides);
}

/**
 * op(a) @ op(b) over the broadcast batch axes, op a transpose of the last two axes where asked:
 * the transposes are read in place, never copied.
 */
export function batchedProduct(a: Tensor, transposeA: boolean, b: Tensor, transposeB: boolean): RawTensor {
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2), ['the batch axes of a', 'the batch axes of b']);
  const [aRows, aColumns] = a.shape.slice(-2);
  const [bRows, bColumns] = b.shape.slice(-2);
  const [m, k] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const n = transposeB ? bRows : bColumns;
  const shape = [...batch, m, n];
  // Refused before the batch offsets are worked out, which can be as many as the result's matrices.
  const out = allocate('matmul', shape);
  if (batch.length === 0) {
    matmulInto({ data: a.storage, offset: 0, transposed: transposeA }, { data: b.storage, offset: 0, transposed: transposeB }, m, k, n, out, 0);
    return { data: out, shape };
  }
  const aOffsets = batchOffsets(a.shape, batch), bOffsets = batchOffsets(b.shape, batch);
  for (let i = 0; i < aOffsets.length; i++) {
    matmulInto({ data: a.storage, offset: aOffsets[i], transposed: transposeA }, { data: b.storage, offset: bOffsets[i], transposed: transposeB }, m, k, n, out, i * m * n);
  }
  return { data: out, shape };
}

/**
 * op(a) @ op(b) for a gradient. Recorded (createGraph), the transposes are nodes of their own, so
 * the result can be differentiated again; otherwise they are read in place (batchedProduct).
 */
export function gradientProduct(a: Tensor, transposeA: boolean, b: Tensor, transposeB: boolean): Tensor {
  if (isGradEnabled()) return (transposeA ? swapLastTwo(a) : a).matmul(transposeB ? swapLastTwo(b) : b);
  const { data, shape } = batchedProduct(a, transposeA, b, transposeB);
  return new Tensor(data, shape);
}

const matmulOp: OpDefinition = {
  name: 'matmul',
  label: '@',
  inputNames: ['a', 'b'],
  formula: ({ inputs: [a, b], grad }) => [`${grad} @ ${b}ᵀ`, `${a}ᵀ @ ${grad}`],
  forward: ([a, b]) => batchedProduct(a, false, b, false),
  backward: ({ inputs: [a, b], needsInputGrad }, g) => [
    needsInputGrad[0] ? unbroadcast(gradientProduct(g, false, b, true), a.shape) : null,
    needsInputGrad[1] ? unbroadcast(gradientProduct(a, true, g, false), b.shape) : null,
  ],
};

/**
 * Matrix product of the last two axes, broadcasting any leading (batch) axes. As in PyTorch, a
 * 1-D a is a row vector and a 1-D b a column vector, and that axis is dropped from the result:
 * vector·matrix, matrix·vector and vector·vector (a 0-d result) all work.
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const left = toTensor('matmul', 'a', a);
  const right = toTensor('matmul', 'b', b);
  if (left.ndim < 1 || right.ndim < 1) {
    throw new Error(`matmul: both arguments need at least 1 axis, got a of shape ${formatShape(left.shape)} and b of shape ${formatShape(right.shape)} (use mul for a scalar)`);
  }
  const k = left.shape[left.ndim - 1];
  const kb = right.shape[Math.max(0, right.ndim - 2)];
  if (kb !== k) {
    throw new Error(`matmul: a of shape ${formatShape(left.shape)} and b of shape ${formatShape(right.shape)} do not chain: the last axis of a (${k}) must equal the ${right.ndim === 1 ? 'only' : 'second-to-last'} axis of b (${kb})`);
  }
  const product = applyOp(matmulOp, [left.ndim === 1 ? unsqueeze(left, 0) : left, right.ndim === 1 ? unsqueeze(right, 1) : right], undefined);
  const dropped = [...(left.ndim === 1 ? [-2] : []), ...(right.ndim === 1 ? [-1] : [])];
  return dropped.length === 0 ? product : squeeze(product, dropped);
}

/** The dot product of two 1-D tensors of the same length, a 0-d tensor. */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  const left = toTensor('dot', 'a', a);
  const right = toTensor('dot', 'b', b);
  if (left.ndim !== 1 || right.ndim !== 1 || left.size !== right.size) {
    throw new Error(`dot: needs two 1-D tensors of the same length, got a of shape ${formatShape(left.shape)} and b of shape ${formatShape(right.shape)}`);
  }
  return matmul(left, right);
}
