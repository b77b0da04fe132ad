import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, zeros, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxis, stridesOf, type Shape, unravelIndex } from '../tensor/shape.js';

/*
 * gather picks x's values along one axis at the positions `index` names; its gradient adds g
 * back at those positions (scatterAdd), and scatterAdd's gradient gathers again, so both
 * differentiate any number of times. The index is an input (pictures show it) but is not
 * differentiable: its gradient, when asked for, is zero.
 */

interface IndexAttrs {
  readonly axis: number;
  /** For each element of index, the flat offset in x it reads. */
  readonly offsets: Int32Array;
}

const gatherOp: OpDefinition<IndexAttrs> = {
  name: 'gather',
  inputNames: ['x', 'index'],
  formula: ({ plain, grad }) => [`${grad} scatter-added at ${plain.inputs[1]}`, '0'],
  forward([x, index], { offsets }) {
    const out = new Float64Array(offsets.length);
    for (let i = 0; i < out.length; i++) out[i] = x.storage[offsets[i]];
    return { data: out, shape: index.shape };
  },
  backward({ inputs: [x, index], attrs, needsInputGrad }, g) {
    return [needsInputGrad[0] ? applyOp(scatterAddOp, [g, index], { ...attrs, shape: x.shape }) : null, needsInputGrad[1] ? zeros(index.shape) : null];
  },
};

const scatterAddOp: OpDefinition<IndexAttrs & { readonly shape: Shape }> = {
  name: 'scatterAdd',
  label: 'scatter-add',
  inputNames: ['source', 'index'],
  formula: ({ plain, grad }) => [`${grad} gathered at ${plain.inputs[1]}`, '0'],
  forward([source], { offsets, shape }) {
    const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < offsets.length; i++) out[offsets[i]] += source.storage[i];
    return { data: out, shape };
  },
  backward({ inputs: [, index], attrs, needsInputGrad }, g) {
    return [needsInputGrad[0] ? applyOp(gatherOp, [g, index], attrs) : null, needsInputGrad[1] ? zeros(index.shape) : null];
  },
};

/**
 * PyTorch's `gather`: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1. index has x's number of
 * axes, no axis larger than x's except `axis`, and integer values from 0 to x.shape[axis] − 1.
 */
export function gather(x: TensorLike, axis: number, index: Tensor): Tensor {
  const input = toTensor('gather', 'x', x);
  const at = normalizeAxis('gather', 'axis', axis, input.ndim);
  if (!(index instanceof Tensor)) throw new Error(`gather: index must be a Tensor of integer positions, got ${typeof index}`);
  if (index.ndim !== input.ndim || index.shape.some((d, i) => i !== at && d > input.shape[i])) {
    throw new Error(`gather: index of shape ${formatShape(index.shape)} does not fit x of shape ${formatShape(input.shape)}: it needs the same number of axes and no axis larger than x's, except axis ${at}`);
  }
  return applyOp(gatherOp, [input, index], { axis: at, offsets: gatherOffsets('gather', input.shape, at, index) });
}

/** The flat offset in x that each element of index reads, checking every index value. */
function gatherOffsets(fn: string, shape: Shape, axis: number, index: Tensor): Int32Array {
  const strides = stridesOf(shape);
  const indexStrides = stridesOf(index.shape);
  const size = shape[axis];
  const offsets = new Int32Array(index.size);
  for (let i = 0; i < index.size; i++) {
    const position = index.storage[i];
    if (!Number.isInteger(position) || position < 0 || position >= size) {
      throw new Error(`${fn}: index${formatShape(unravelIndex(i, index.shape))} is ${position}, but axis ${axis} of x (shape ${formatShape(shape)}) takes integers from 0 to ${size - 1}`);
    }
    let offset = 0;
    let rest = i;
    for (let a = 0; a < index.ndim; a++) {
      const coordinate = Math.floor(rest / indexStrides[a]);
      rest -= coordinate * indexStrides[a];
      offset += (a === axis ? position : coordinate) * strides[a];
    }
    offsets[i] = offset;
  }
  return offsets;
}
