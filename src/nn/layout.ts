import { isZero, zeroWhere } from '../ops/elementwise.js';
import { Tensor } from '../tensor/tensor.js';
import { formatShape, sizeOf } from '../tensor/shape.js';
import { describeValue } from '../validate.js';

/**
 * How batch norm reads x: `[N, C]`, or `[N, C, ...]` with one channel at axis 1, normalised over
 * every other axis (PyTorch's BatchNorm1d/2d convention). Row-major, so x is `[N, C, S]` in
 * memory, S being the product of the axes after C (1 for `[N, C]`).
 */
export interface ChannelLayout {
  readonly channels: number;
  readonly spatial: number;
  /** The axes the statistics are taken over: all but axis 1. */
  readonly axes: readonly number[];
  /** Values per channel: batch × spatial. */
  readonly count: number;
  /** The statistics' shape with keepdims: `[1, C, 1, ...]`. */
  readonly statShape: readonly number[];
}

export function channelLayout(op: string, x: Tensor, options: { batchStatistics: boolean }): ChannelLayout {
  if (!(x instanceof Tensor)) throw new Error(`${op}: x must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  if (x.ndim < 2) {
    throw new Error(`${op}: x must have at least 2 axes, [N, C] or [N, C, ...], got shape ${formatShape(x.shape)} (reshape a single example to [1, C] and use eval mode)`);
  }
  const [batch, channels] = x.shape;
  const spatial = sizeOf(x.shape.slice(2));
  const count = batch * spatial;
  // PyTorch refuses too: the variance of one value is 0, so every output would be beta.
  if (options.batchStatistics && count <= 1) {
    throw new Error(`${op}: expected more than 1 value per channel when training, got x of shape ${formatShape(x.shape)} (${count} value per channel); use a larger batch, or eval mode with running statistics`);
  }
  const axes = x.shape.map((_, axis) => axis).filter((axis) => axis !== 1);
  const statShape = x.shape.map((size, axis) => (axis === 1 ? size : 1));
  return { channels, spatial, axes, count, statShape };
}

/** Checks that a per-channel tensor (gamma, beta, a running statistic) has shape [C]. */
export function checkPerChannel(op: string, argument: string, value: Tensor | null, x: Tensor, layout: ChannelLayout): void {
  if (value === null) return;
  if (!(value instanceof Tensor)) throw new Error(`${op}: ${argument} must be a Tensor or null, got ${typeof value}`);
  if (value.ndim !== 1 || value.shape[0] !== layout.channels) {
    throw new Error(`${op}: ${argument} has shape ${formatShape(value.shape)} but must have shape [${layout.channels}], one value per channel of x (shape ${formatShape(x.shape)}, channels at axis 1)`);
  }
}

export function checkEps(op: string, eps: number): void {
  if (!(typeof eps === 'number' && Number.isFinite(eps) && eps >= 0)) throw new Error(`${op}: eps must be a finite number >= 0, got ${describeValue(eps)}`);
}

/**
 * A per-channel `[C]` tensor shaped to broadcast against x. `[C]` already lines up with the last
 * axis of `[N, C]`, so only inputs with more axes pay for a reshape node.
 */
export function alongChannels(value: Tensor, layout: ChannelLayout): Tensor {
  if (layout.statShape.length === 2) return value;
  const shaped = value.reshape(layout.statShape);
  // An unrecorded reshape (a running statistic) is a new leaf: it keeps what pictures call it.
  if (!shaped.node) {
    shaped.name = value.name;
    shaped.isBuffer = value.isBuffer;
  }
  return shaped;
}

/** The inverse: a keepdims statistic `[1, C, 1, ...]` back to `[C]`. */
export function perChannel(stat: Tensor, layout: ChannelLayout): Tensor {
  return stat.reshape([layout.channels]);
}

/**
 * eps = 0 and a constant channel make σ² + ε exactly 0. PyTorch's kernel takes 1/σ as 0 there,
 * so x̂ = 0, y = β, dx = dγ = 0 and dβ = Σg; we follow it. `safe` is σ² + ε with 1 in place of
 * those zeros, so neither the root, the division nor their gradients meet 0/0; `zeroed` then
 * puts the 0 in x̂ (or 1/σ). Nothing is recorded for the common case, a positive variance.
 */
export function guardZeroVariance(varianceEps: Tensor): { safe: Tensor; zeroed: (t: Tensor) => Tensor } {
  const constant = isZero(varianceEps);
  if (!constant.storage.includes(1)) return { safe: varianceEps, zeroed: (t) => t };
  return { safe: varianceEps.add(constant), zeroed: (t) => zeroWhere(t, constant) };
}
