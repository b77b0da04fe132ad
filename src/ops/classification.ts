import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxis, reducedShape, unravelIndex } from '../tensor/shape.js';
import { checkOptions, describeValue, expectOneOf } from '../validate.js';
import { compileBinary } from './kernels.js';
import { gather } from './indexing.js';
import { shiftedByMax } from './statistics.js';

/*
 * softmax and logSoftmax along one axis, each one node, computed from x − max(x) so that large
 * inputs neither overflow nor lose digits. The losses are built from them and from gather, so
 * they need no gradient of their own.
 */

type AxisAttrs = { readonly axis: number };

const subtractKernel = compileBinary('x - y');
const divideKernel = compileBinary('x / y');

function logSoftmaxData(x: Tensor, axis: number): Float64Array {
  const { shifted, logSum } = shiftedByMax('logSoftmax', x, [axis]);
  return subtractKernel(shifted, x.shape, logSum, reducedShape(x.shape, [axis], true), x.shape, 'logSoftmax');
}

function softmaxData(x: Tensor, axis: number): Float64Array {
  const { shifted, logSum } = shiftedByMax('softmax', x, [axis]);
  return divideKernel(shifted.map(Math.exp), x.shape, logSum.map(Math.exp), reducedShape(x.shape, [axis], true), x.shape, 'softmax');
}

const softmaxOp: OpDefinition<AxisAttrs> = {
  name: 'softmax',
  inputNames: ['x'],
  formula: ({ output, grad }) => [`${output} · (${grad} − Σ ${grad} · ${output})`],
  forward: ([x], { axis }) => ({ data: softmaxData(x, axis), shape: x.shape }),
  // y ⊙ (g − Σ g·y) along the axis.
  backward: ({ output, attrs: { axis } }, g) => [output.mul(g.sub(g.mul(output).sum(axis, { keepdims: true })))],
};

const logSoftmaxOp: OpDefinition<AxisAttrs> = {
  name: 'logSoftmax',
  label: 'log softmax',
  inputNames: ['x'],
  formula: ({ output, grad }) => [`${grad} − exp(${output}) · Σ ${grad}`],
  forward: ([x], { axis }) => ({ data: logSoftmaxData(x, axis), shape: x.shape }),
  // g − softmax ⊙ Σ g along the axis, with softmax = exp(output).
  backward: ({ output, attrs: { axis } }, g) => [g.sub(output.exp().mul(g.sum(axis, { keepdims: true })))],
};

function alongAxis(name: string, op: OpDefinition<AxisAttrs>) {
  return (x: TensorLike, axis: number): Tensor => {
    const input = toTensor(name, 'x', x);
    // A 0-d tensor is one value along an implicit axis, as in PyTorch.
    if (input.ndim === 0) return applyOp(op, [input.reshape([1])], { axis: 0 }).reshape([]);
    return applyOp(op, [input], { axis: normalizeAxis(name, 'axis', axis, input.ndim) });
  };
}

/** exp(x) / Σ exp(x) along `axis`. */
export const softmax = alongAxis('softmax', softmaxOp);
/** log(softmax(x)) along `axis`, computed as x − logsumexp(x), so it stays finite where softmax rounds to 0. */
export const logSoftmax = alongAxis('logSoftmax', logSoftmaxOp);

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** 'mean' (the default) over the batch, 'sum', or 'none' for one loss per sample. */
  reduction?: Reduction;
}

/**
 * The negative log-likelihood of class indices: −logProbs[n, target[n]], averaged over the batch.
 * logProbs is [N, C] (or [N, C, d1, ...] with target [N, d1, ...]); target holds integers from 0
 * to C − 1. Like PyTorch's `nll_loss` without class weights or an ignored index.
 */
export function nllLoss(logProbs: Tensor, target: Tensor, options?: LossOptions): Tensor {
  return classLoss('nllLoss', 'logProbs', logProbs, target, options, (t) => t);
}

/**
 * The cross-entropy of logits [N, C] against class indices [N]: nllLoss(logSoftmax(logits, 1),
 * target), as PyTorch's `cross_entropy` with class-index targets.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options?: LossOptions): Tensor {
  return classLoss('crossEntropy', 'logits', logits, target, options, (t) => logSoftmax(t, 1));
}

function classLoss(fn: string, argument: string, input: unknown, target: unknown, options: LossOptions | undefined, toLogProbs: (t: Tensor) => Tensor): Tensor {
  const { reduction = 'mean' } = checkOptions(fn, options, ['reduction']);
  expectOneOf(fn, 'reduction', reduction, ['mean', 'sum', 'none'] as const);
  if (!(input instanceof Tensor)) throw new Error(`${fn}: ${argument} must be a Tensor, got ${describeValue(input)}`);
  if (!(target instanceof Tensor)) throw new Error(`${fn}: target must be a Tensor of class indices, got ${describeValue(target)}`);
  const expected = [input.shape[0], ...input.shape.slice(2)];
  if (input.ndim < 2 || target.ndim !== expected.length || target.shape.some((d, i) => d !== expected[i])) {
    const needed = input.ndim < 2 ? `${argument} of shape [N, C] and target of shape [N]` : `target of shape ${formatShape(expected)}`;
    throw new Error(`${fn}: needs ${needed}, got ${argument} of shape ${formatShape(input.shape)} and target of shape ${formatShape(target.shape)}`);
  }
  const classes = input.shape[1];
  for (let i = 0; i < target.size; i++) {
    const c = target.storage[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new Error(`${fn}: target${formatShape(unravelIndex(i, target.shape))} is ${c}, but ${argument} has ${classes} classes (class indices from 0 to ${classes - 1})`);
    }
  }
  // The class indices as gather's index, [N, 1, d…], named so that pictures show the target.
  const index = new Tensor(target.storage, [target.shape[0], 1, ...target.shape.slice(1)], { name: target.name ?? 'target' });
  const losses = gather(toLogProbs(input), 1, index).squeeze(1).neg();
  return reduction === 'none' ? losses : reduction === 'sum' ? losses.sum() : losses.mean();
}
