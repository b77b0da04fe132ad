import { meanSquare } from '../ops/reduce.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue } from '../validate.js';
import { alongChannels, channelLayout, checkEps, checkPerChannel } from './layout.js';
import { divideByStd, scaleShift, step } from './norm-steps.js';

/*
 * The normalization family as explicit graphs, in BN's step vocabulary (mean, subtract,
 * variance, sqrt, divide, scale, shift): they differ only in the axes the statistics are taken
 * over, which is what their pictures, side by side, show. Each matches its PyTorch function;
 * the variance is the biased one, as in BN's training mode.
 *
 *   batchNorm     x [N, C, ...]   over N and every spatial axis, per channel
 *   layerNorm     x [..., *S]     over the trailing axes S (normalizedShape), per example
 *   groupNorm     x [N, C, ...]   over each group of C/G channels and every spatial axis, per example
 *   instanceNorm  x [N, C, ...]   over every spatial axis, per example and channel
 *   rmsNorm       x [..., *S]     no mean: x / √(mean(x²) + ε) over S
 */

export interface NormOptions {
  /** Added under the square root. Default 1e-5 (PyTorch's); rmsNorm's is the float64 machine epsilon, as PyTorch's F.rms_norm uses for float64. */
  eps?: number;
}

const KEEP = { keepdims: true } as const;

function checkedEps(fn: string, options: NormOptions | undefined, fallback = 1e-5): number {
  const { eps = fallback } = checkOptions(fn, options, ['eps']);
  checkEps(fn, eps);
  return eps;
}

function checkTensor(fn: string, argument: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw new Error(`${fn}: ${argument} must be a Tensor, got ${describeValue(value)}`);
  return value;
}

/** mean, subtract, variance, then x̂: the steps every centred norm shares, over `axes`. */
function centredNormalize(x: Tensor, axes: readonly number[], eps: number): Tensor {
  const mean = step(x.mean(axes, KEEP), 'mean', 'μ');
  const centered = step(x.sub(mean), 'subtract', 'x − μ');
  const variance = step(meanSquare(centered, axes, KEEP), 'variance', 'σ²');
  return divideByStd(centered, variance, eps);
}

/** normalizedShape as an array, checked against the trailing axes of x; returns the axes it covers. */
function trailingAxes(fn: string, x: Tensor, normalizedShape: number | readonly number[]): { shape: number[]; axes: number[] } {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${fn}: normalizedShape must be a positive integer or a non-empty list of them, got ${Array.isArray(normalizedShape) ? JSON.stringify(normalizedShape) : describeValue(normalizedShape)}`);
  }
  const tail = x.shape.slice(x.ndim - shape.length);
  if (shape.length > x.ndim || tail.some((d, i) => d !== shape[i])) {
    throw new Error(`${fn}: normalizedShape ${formatShape(shape)} must match the last axes of x, but x has shape ${formatShape(x.shape)}`);
  }
  return { shape: [...shape], axes: shape.map((_, i) => x.ndim - shape.length + i) };
}

function checkShaped(fn: string, argument: string, value: Tensor | null, shape: readonly number[]): void {
  if (value === null) return;
  checkTensor(fn, argument, value);
  if (formatShape(value.shape) !== formatShape(shape)) throw new Error(`${fn}: ${argument} must have shape ${formatShape(shape)} (normalizedShape) or be null, got ${formatShape(value.shape)}`);
}

/** PyTorch's F.layer_norm: each example normalized over its last axes (normalizedShape); gamma and beta of that shape. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], gamma: Tensor | null = null, beta: Tensor | null = null, options?: NormOptions): Tensor {
  const eps = checkedEps('layerNorm', options);
  const { shape, axes } = trailingAxes('layerNorm', checkTensor('layerNorm', 'x', x), normalizedShape);
  checkShaped('layerNorm', 'gamma', gamma, shape);
  checkShaped('layerNorm', 'beta', beta, shape);
  return scaleShift(centredNormalize(x, axes, eps), gamma, beta);
}

/**
 * PyTorch's F.group_norm: x [N, C, ...] with its C channels split into numGroups groups, each
 * example and group normalized over its channels and every spatial axis; gamma, beta [C].
 */
export function groupNorm(x: Tensor, numGroups: number, gamma: Tensor | null = null, beta: Tensor | null = null, options?: NormOptions): Tensor {
  const eps = checkedEps('groupNorm', options);
  const layout = channelLayout('groupNorm', checkTensor('groupNorm', 'x', x), { batchStatistics: false });
  if (!Number.isInteger(numGroups) || numGroups < 1 || layout.channels % numGroups !== 0) {
    throw new Error(`groupNorm: numGroups must be a positive integer dividing the ${layout.channels} channels of x (shape ${formatShape(x.shape)}), got ${describeValue(numGroups)}`);
  }
  checkPerChannel('groupNorm', 'gamma', gamma, x, layout);
  checkPerChannel('groupNorm', 'beta', beta, x, layout);
  const grouped = x.reshape([x.shape[0], numGroups, -1]);
  const normalized = centredNormalize(grouped, [2], eps).reshape(x.shape);
  return scaleShift(normalized, gamma, beta, (parameter) => alongChannels(parameter, layout));
}

/** PyTorch's F.instance_norm with the input's statistics: x [N, C, ...] normalized per example and channel over the spatial axes; gamma, beta [C]. */
export function instanceNorm(x: Tensor, gamma: Tensor | null = null, beta: Tensor | null = null, options?: NormOptions): Tensor {
  const eps = checkedEps('instanceNorm', options);
  const layout = channelLayout('instanceNorm', checkTensor('instanceNorm', 'x', x), { batchStatistics: false });
  if (x.ndim < 3) throw new Error(`instanceNorm: x must have shape [N, C, ...] with at least one spatial axis, got ${formatShape(x.shape)}`);
  checkPerChannel('instanceNorm', 'gamma', gamma, x, layout);
  checkPerChannel('instanceNorm', 'beta', beta, x, layout);
  const spatial = x.shape.slice(2).map((_, i) => i + 2);
  return scaleShift(centredNormalize(x, spatial, eps), gamma, beta, (parameter) => alongChannels(parameter, layout));
}

/**
 * RMSNorm (Zhang & Sennrich 2019; PyTorch's F.rms_norm): x / √(mean(x²) + ε) · γ over the last
 * axes (normalizedShape). No mean is subtracted and there is no shift: the steps are
 * 'mean square' (in the variance's place), sqrt, divide, scale.
 */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], gamma: Tensor | null = null, options?: NormOptions): Tensor {
  const eps = checkedEps('rmsNorm', options, Number.EPSILON);
  const { shape, axes } = trailingAxes('rmsNorm', checkTensor('rmsNorm', 'x', x), normalizedShape);
  checkShaped('rmsNorm', 'gamma', gamma, shape);
  const meanOfSquares = step(meanSquare(x, axes, KEEP), 'mean square', 'mean(x²)');
  return scaleShift(divideByStd(x, meanOfSquares, eps, { plusEps: 'mean(x²) + ε', std: 'rms' }), gamma, null);
}
