import { meanSquare } from '../ops/reduce.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions } from '../validate.js';
import { alongChannels, channelLayout, checkEps, checkPerChannel, guardZeroVariance, type ChannelLayout } from './layout.js';

/*
 * Batch normalization as an explicit graph (Ioffe & Szegedy 2015, Algorithm 1): each step is its
 * own op node, labelled, so a picture shows the algorithm and the gradient is ordinary autodiff
 * through the steps. `batchNormFused` (batchnorm-fused.ts) is the same function as one node.
 */

/** The steps of the explicit graph, in order: the labels its op nodes carry. */
export const BN_STEPS = ['mean', 'subtract', 'variance', 'sqrt', 'divide', 'scale', 'shift'] as const;
export type BatchNormStep = (typeof BN_STEPS)[number];

/** The label of the node that adds eps, between 'variance' and 'sqrt': part of the sqrt step. */
export const ADD_EPS_LABEL = 'add ε';
/** With `primitives: true`, the label of the node that squares the deviations, before 'variance'. */
export const SQUARE_LABEL = 'square';

export interface BatchNormOptions {
  /** Added to the variance under the square root, so a constant feature gives finite values. Default 1e-5 (PyTorch's). */
  eps?: number;
  /**
   * Split the variance step into its primitives: 'square' ((x − μ)², elementwise) and then
   * 'variance' (their mean), as in the nine-step BN backward diagrams. Same values, finer graph.
   */
  primitives?: boolean;
}

const KEEP = { keepdims: true } as const;

/** Names a step's tensor and labels the node that produced it (absent when nothing was recorded). */
function step(t: Tensor, label: string, name: string): Tensor {
  t.name = name;
  return t.node ? t.withLabel(label) : t;
}

/**
 * y = γ · (x − μ) / √(σ² + ε) + β, with μ and σ² the batch mean and biased variance of each
 * feature (`[N, D]`) or channel (`[N, C, ...]`, over every axis but 1), as in training.
 * gamma and beta have shape [D] or [C]; null skips that step (the unscaled, unshifted x̂).
 *
 * The op nodes are labelled 'mean', 'subtract', 'variance', 'add ε' + 'sqrt', 'divide',
 * 'scale', 'shift' (`BN_STEPS`, with the eps node inside the sqrt step); their outputs are named
 * μ, x − μ, σ², σ² + ε, σ, x̂, γ·x̂, y. The variance is taken of x − μ (two passes), which stays
 * accurate when the features have a large offset.
 */
export function batchNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: BatchNormOptions = {}): Tensor {
  return batchNormWithStatistics(x, gamma, beta, options).output;
}

/** `batchNorm`, also handing back the batch statistics μ and σ² (shape `[1, C, 1, ...]`), for running averages. */
export function batchNormWithStatistics(x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: BatchNormOptions = {}): { output: Tensor; mean: Tensor; variance: Tensor } {
  const { eps = 1e-5, primitives = false } = checkOptions('batchNorm', options, ['eps', 'primitives']);
  checkEps('batchNorm', eps);
  const layout = channelLayout('batchNorm', x, { batchStatistics: true });
  checkPerChannel('batchNorm', 'gamma', gamma, x, layout);
  checkPerChannel('batchNorm', 'beta', beta, x, layout);
  const { axes } = layout;
  const mean = step(x.mean(axes, KEEP), 'mean', 'μ');
  const centered = step(x.sub(mean), 'subtract', 'x − μ');
  const variance = primitives
    ? step(step(centered.square(), SQUARE_LABEL, '(x − μ)²').mean(axes, KEEP), 'variance', 'σ²')
    : step(meanSquare(centered, axes, KEEP), 'variance', 'σ²');
  return { output: divideScaleShift(centered, variance, gamma, beta, eps, layout), mean, variance };
}

/**
 * Batch norm with given statistics instead of the batch's: what a module does in eval mode
 * (PyTorch's `F.batch_norm(..., training=False)`). mean and variance have shape [C]. The graph
 * has the steps from 'subtract' on; the statistics are leaves.
 */
export function batchNormInference(
  x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor | null, beta: Tensor | null, options: { eps?: number } = {},
): Tensor {
  const { eps = 1e-5 } = checkOptions('batchNormInference', options, ['eps']);
  checkEps('batchNormInference', eps);
  const layout = channelLayout('batchNormInference', x, { batchStatistics: false });
  checkPerChannel('batchNormInference', 'mean', mean, x, layout);
  checkPerChannel('batchNormInference', 'variance', variance, x, layout);
  checkPerChannel('batchNormInference', 'gamma', gamma, x, layout);
  checkPerChannel('batchNormInference', 'beta', beta, x, layout);
  const centered = step(x.sub(alongChannels(mean, layout)), 'subtract', 'x − μ');
  return divideScaleShift(centered, alongChannels(variance, layout), gamma, beta, eps, layout);
}

/** The steps both modes share, from the statistics on: sqrt, divide, scale, shift. */
function divideScaleShift(centered: Tensor, variance: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number, layout: ChannelLayout): Tensor {
  // ε as a named constant, so pictures label it rather than show a bare number.
  const epsilon = new Tensor(Float64Array.of(eps), [], { name: 'ε' });
  const { safe, zeroed } = guardZeroVariance(step(variance.add(epsilon), ADD_EPS_LABEL, 'σ² + ε'));
  const std = step(safe.sqrt(), 'sqrt', 'σ');
  if (!std.node && variance.isBuffer) {
    // In eval mode nothing records σ: it is computed from the running variance alone, so a
    // picture shows it as the module state it is, named by how it is made.
    std.isBuffer = true;
    std.name = `√(${variance.name ?? 'running variance'} + ε)`;
  }
  const normalized = step(zeroed(centered.div(std)), 'divide', 'x̂');
  const scaled = gamma === null ? normalized : step(normalized.mul(alongChannels(gamma, layout)), 'scale', 'γ·x̂');
  return beta === null ? scaled : step(scaled.add(alongChannels(beta, layout)), 'shift', 'y');
}

export { batchNormFused } from './batchnorm-fused.js';
