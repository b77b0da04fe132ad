import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxes, reducedShape, type Shape } from '../tensor/shape.js';
import { broadcastTo } from './broadcast.js';
import { compileBinary, compileReduce, type ReduceKernel } from './kernels.js';

/*
 * Reductions over `axis` (a number, a list, negative allowed; all axes when omitted), with
 * `keepdims` as in NumPy. Each gradient spreads g back over the reduced axes.
 */

export interface ReduceOptions {
  keepdims?: boolean;
}

interface ReduceAttrs {
  readonly axes: readonly number[];
  readonly keepdims: boolean;
  /** How many input elements feed each output element. */
  readonly count: number;
}

const sumKernel = compileReduce('0', 'acc + x');
const sumOfSquaresKernel = compileReduce('0', 'acc + x * x');
// Written so a NaN, once met, stays: `x > NaN` is false and `x !== x` only holds for NaN.
const maxKernel = compileReduce('-Infinity', 'x > acc || x !== x ? (acc !== acc ? acc : x) : acc');
const equalKernel = compileBinary('x === y ? 1 : 0');
const divideKernel = compileBinary('x / y');

/** g with the reduced axes restored as 1s, so it broadcasts against the input. */
function withKeptDims(g: Tensor, input: Shape, attrs: ReduceAttrs): Tensor {
  return attrs.keepdims ? g : g.reshape(reducedShape(input, attrs.axes, true));
}

/** g broadcast back to the input's shape. */
function spread(g: Tensor, input: Shape, attrs: ReduceAttrs): Tensor {
  return broadcastTo(withKeptDims(g, input, attrs), input);
}

function reduction(name: string, prepare: (x: Tensor, attrs: ReduceAttrs) => Float64Array, op: Omit<OpDefinition<ReduceAttrs>, 'name' | 'forward'>) {
  const definition: OpDefinition<ReduceAttrs> = {
    name,
    inputNames: ['x'],
    ...op,
    forward([x], attrs) {
      return { data: prepare(x, attrs), shape: reducedShape(x.shape, attrs.axes, attrs.keepdims) };
    },
  };
  return (x: TensorLike, axis?: number | readonly number[], options: ReduceOptions = {}): Tensor => {
    const input = toTensor(name, 'x', x);
    const axes = normalizeAxes(name, axis, input.ndim);
    let count = 1;
    for (const a of axes) count *= input.shape[a];
    return applyOp(definition, [input], { axes, keepdims: options.keepdims ?? false, count });
  };
}

export const sum = reduction('sum', (x, { axes }) => sumKernel(x.storage, x.shape, axes), {
  backward: ({ inputs: [x], attrs }, g) => [spread(g, x.shape, attrs)],
});

/** A summing kernel's result divided by how many input elements fed each output element. */
function averaged(kernel: ReduceKernel) {
  return (x: Tensor, { axes, count }: ReduceAttrs): Float64Array => {
    const data = kernel(x.storage, x.shape, axes);
    for (let i = 0; i < data.length; i++) data[i] /= count;
    return data;
  };
}

export const mean = reduction('mean', averaged(sumKernel), {
  // Divide before spreading: the small tensor, not the full-size one.
  backward: ({ inputs: [x], attrs }, g) => [spread(g.div(attrs.count), x.shape, attrs)],
});

/**
 * mean(x²) as one node: BN's variance step, applied to values already centred (a two-pass
 * variance, which stays accurate when the mean is large compared with the spread).
 */
export const meanSquare = reduction('meanSquare', averaged(sumOfSquaresKernel), {
  label: 'mean(x²)',
  // x · (2g/N) with g broadcast by the mul itself: one full-size pass, no materialised spread.
  backward: ({ inputs: [x], attrs }, g) => [x.mul(withKeptDims(g.mul(2 / attrs.count), x.shape, attrs))],
});

export const max = reduction('max', (x, { axes, count }) => {
  if (count === 0) throw new Error(`max: cannot take the max over an empty axis (x has shape ${formatShape(x.shape)}, axes ${formatShape(axes)})`);
  return maxKernel(x.storage, x.shape, axes);
}, {
  // Like PyTorch's amax, the gradient is shared evenly between tied maxima.
  backward: ({ inputs: [x], output, attrs }, g) => {
    const keptShape = reducedShape(x.shape, attrs.axes, true);
    const isMax = equalKernel(x.storage, x.shape, output.storage, keptShape, x.shape, 'max');
    const ties = sumKernel(isMax, x.shape, attrs.axes);
    // 1 / (number of ties) at each maximum, 0 elsewhere: a constant, not differentiated.
    const share = new Tensor(divideKernel(isMax, x.shape, ties, keptShape, x.shape, 'max'), x.shape);
    return [spread(g, x.shape, attrs).mul(share)];
  },
});
