import { applyOp, type OpDefinition } from '../autograd/op.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { reducedShape } from '../tensor/shape.js';
import { expectFiniteNumber } from '../validate.js';
import { compileBinary, compileReduce } from './kernels.js';
import { sumKernel } from './sums.js';
import { reductionCall, withKeptDims, type ReduceAttrs, type ReduceOptions } from './reduce.js';

/*
 * Statistics over `axis` (a number, a list, or every axis), each one node with its gradient
 * beside it, written with tensor ops so it can be differentiated again.
 */

const maxKernel = compileReduce('-Infinity', 'x > acc ? x : acc');
const squaredDeviationKernel = compileBinary('(x - y) * (x - y)');
const subtractKernel = compileBinary('x - y');

export interface VarianceOptions extends ReduceOptions {
  /** Subtracted from the count in the divisor: 1 (the default) is the unbiased sample variance, 0 the population variance. */
  correction?: number;
}

interface VarianceAttrs extends ReduceAttrs {
  readonly divisor: number;
}

/** Σ(x − mean)² / divisor over the axes, kept as 1s; two passes, so a large mean costs no digits. */
function varianceData(x: Tensor, { axes, count, divisor }: VarianceAttrs): Float64Array {
  const keptShape = reducedShape(x.shape, axes, true);
  const means = sumKernel(x.storage, x.shape, axes);
  for (let i = 0; i < means.length; i++) means[i] /= count;
  const squares = squaredDeviationKernel(x.storage, x.shape, means, keptShape, x.shape, 'variance');
  const out = sumKernel(squares, x.shape, axes);
  for (let i = 0; i < out.length; i++) out[i] /= divisor;
  return out;
}

/** (x − mean) · 2/divisor: the derivative of the variance, as tensor ops. */
const varianceSlope = (x: Tensor, attrs: VarianceAttrs) => x.sub(x.mean(attrs.axes, { keepdims: true })).mul(2 / attrs.divisor);

/** The divisor as a picture writes it: `N − 1`, or `N` for the biased form. */
function divisorText(size: (n: number) => string, { count, divisor }: VarianceAttrs): string {
  const correction = count - divisor;
  return correction === 0 ? size(count) : `(${size(count)} − ${correction})`;
}

const varianceOp: OpDefinition<VarianceAttrs> = {
  name: 'variance',
  inputNames: ['x'],
  formula: ({ inputs: [x], plain, grad, size }, attrs) => [`2 · ${grad} · (${x} − mean(${plain.inputs[0]})) / ${divisorText(size, attrs)}`],
  forward: ([x], attrs) => ({ data: varianceData(x, attrs), shape: reducedShape(x.shape, attrs.axes, attrs.keepdims) }),
  backward: ({ inputs: [x], attrs }, g) => [varianceSlope(x, attrs).mul(withKeptDims(g, x.shape, attrs))],
};

const stdOp: OpDefinition<VarianceAttrs> = {
  name: 'std',
  inputNames: ['x'],
  formula: ({ inputs: [x], plain, output, grad, size }, attrs) => [`${grad} · (${x} − mean(${plain.inputs[0]})) / (${divisorText(size, attrs)} · ${output})`],
  forward: ([x], attrs) => ({ data: varianceData(x, attrs).map(Math.sqrt), shape: reducedShape(x.shape, attrs.axes, attrs.keepdims) }),
  // d√v = dv / (2√v); at a spread of 0 this is 0/0 = NaN, as in PyTorch.
  backward: ({ inputs: [x], output, attrs }, g) => [varianceSlope(x, attrs).mul(withKeptDims(g.div(output.mul(2)), x.shape, attrs))],
};

function statistic(name: string, op: OpDefinition<VarianceAttrs>) {
  return (x: TensorLike, axis?: number | readonly number[], options?: VarianceOptions): Tensor => {
    const { input, attrs, options: { correction = 1 } } = reductionCall(name, x, axis, options, ['correction']);
    expectFiniteNumber(name, 'correction', correction, { min: 0 });
    // Fewer values than the correction: PyTorch divides by max(0, count − correction), giving inf or NaN.
    return applyOp(op, [input], { ...attrs, divisor: Math.max(0, attrs.count - correction) });
  };
}

/** The variance over `axis` (PyTorch's `var`; `var` is a reserved word), unbiased unless `correction` says otherwise. */
export const variance = statistic('variance', varianceOp);
/** The standard deviation, √variance, with the same options. */
export const std = statistic('std', stdOp);

/**
 * x − max(x) over the axes, and log Σ exp(x − max) kept as 1s: the two exact-as-possible
 * pieces that logsumexp, softmax and logSoftmax are made of. Subtracting the max first keeps
 * every exp in range and keeps the digits of x − max (x − logsumexp directly would round to the
 * ulp of a large logsumexp).
 */
export function shiftedByMax(op: string, x: Tensor, axes: readonly number[]): { shift: Float64Array; shifted: Float64Array; logSum: Float64Array } {
  const keptShape = reducedShape(x.shape, axes, true);
  const shift = maxKernel(x.storage, x.shape, axes);
  // All −∞ (or a +∞): shifting by it would give NaN; 0 gives the right −∞ (or +∞).
  for (let i = 0; i < shift.length; i++) if (!Number.isFinite(shift[i])) shift[i] = 0;
  const shifted = subtractKernel(x.storage, x.shape, shift, keptShape, x.shape, op);
  const logSum = sumKernel(shifted.map(Math.exp), x.shape, axes).map(Math.log);
  return { shift, shifted, logSum };
}

const logsumexpOp: OpDefinition<ReduceAttrs> = {
  name: 'logsumexp',
  inputNames: ['x'],
  label: 'log Σ exp',
  formula: ({ plain, grad }) => [`${grad} · exp(${plain.inputs[0]} − ${plain.output})`],
  forward([x], { axes, keepdims }) {
    const { shift, logSum } = shiftedByMax('logsumexp', x, axes);
    return { data: logSum.map((v, i) => v + shift[i]), shape: reducedShape(x.shape, axes, keepdims) };
  },
  // The gradient is softmax(x) over the axes: exp(x − logsumexp).
  backward: ({ inputs: [x], output, attrs }, g) => [x.sub(withKeptDims(output, x.shape, attrs)).exp().mul(withKeptDims(g, x.shape, attrs))],
};

/** log(Σ exp(x)) over `axis` (a number, a list, or every axis), computed without overflow. */
export function logsumexp(x: TensorLike, axis?: number | readonly number[], options?: ReduceOptions): Tensor {
  const { input, attrs } = reductionCall('logsumexp', x, axis, options);
  return applyOp(logsumexpOp, [input], attrs);
}
