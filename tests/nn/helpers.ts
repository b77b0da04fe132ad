import { expect } from 'vitest';
import fc from 'fast-check';
import { randn, trace, Tensor, type OpNodeAttributes, type TensorNodeAttributes } from 'gradgraph';

/*
 * Independent references for the BN tests: plain loops over x read as [N, C, S], written
 * without any of gradgraph's ops, so a test compares against arithmetic it does not share.
 */

export function maxAbs(values: Float64Array): number {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  return max;
}

/** max |a − b| / max |b|: the error relative to the scale of the reference tensor. */
export function relativeError(a: Tensor, b: Tensor): number {
  return errorRelativeTo(a, b, maxAbs(b.data));
}

/** Each channel's values (axis 1), gathered from every other axis. */
export function channelValues(x: Tensor): number[][] {
  const [batch, channels] = x.shape;
  const spatial = x.size / (batch * channels);
  const out: number[][] = Array.from({ length: channels }, () => []);
  for (let i = 0; i < x.size; i++) out[Math.floor(i / spatial) % channels].push(x.data[i]);
  return out;
}

export function meanOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Biased (divide by m) variance, two-pass. */
export function varianceOf(values: readonly number[]): number {
  const mu = meanOf(values);
  return values.reduce((a, v) => a + (v - mu) ** 2, 0) / values.length;
}

/** Shapes BN accepts: [N, C] or [N, C, H, W], with at least 2 values per channel. */
export const bnShape = fc.oneof(
  fc.tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 })).map(([n, c]) => [n, c]),
  // W = 2, so even N = 1 has more than one value per channel.
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 })).map(([n, c, h]) => [n, c, h, 2]),
);

/** A BN problem with well-conditioned random values: x (each channel offset and scaled), gamma, beta. */
export const bnInputs = fc.record({ shape: bnShape, seed: fc.integer({ min: 0, max: 1e6 }) }).map(({ shape, seed }) => {
  const channels = shape[1];
  const x = randn(shape, { seed, requiresGrad: true, name: 'x' });
  const offset = randn([channels], { seed: seed + 1 });
  const scale = randn([channels], { seed: seed + 2 });
  const spatial = x.size / (shape[0] * channels);
  for (let i = 0; i < x.size; i++) {
    const c = Math.floor(i / spatial) % channels;
    x.data[i] = x.data[i] * (0.5 + Math.abs(scale.data[c])) + 3 * offset.data[c];
  }
  return {
    x,
    gamma: randn([channels], { seed: seed + 3, requiresGrad: true, name: 'gamma' }),
    beta: randn([channels], { seed: seed + 4, requiresGrad: true, name: 'beta' }),
    gradOutput: randn(shape, { seed: seed + 5 }),
  };
});

/**
 * The size of the terms each BN result is built from, per tensor: output y, then dx, dγ, dβ.
 * Fused and explicit BN are compared relative to these. Relative to the result itself would
 * ask too much where the result is a cancellation: with N = 2, for instance, x̂ = ±1 whatever
 * x is, so dx is of the order of eps while its terms are of the order of γ·g/σ.
 */
export function bnTermScales(x: Tensor, gamma: Tensor, y: Tensor, gradOutput: Tensor, eps: number): [number, number, number, number] {
  const xs = channelValues(x);
  const gs = channelValues(gradOutput);
  let dx = 0;
  let dGamma = 0;
  let dBeta = 0;
  xs.forEach((values, c) => {
    const mu = meanOf(values);
    const invStd = 1 / Math.sqrt(varianceOf(values) + eps);
    dx = Math.max(dx, Math.abs(gamma.data[c]) * invStd * Math.max(...gs[c].map(Math.abs)));
    dGamma = Math.max(dGamma, gs[c].reduce((a, g, i) => a + Math.abs(g * (values[i] - mu) * invStd), 0));
    dBeta = Math.max(dBeta, gs[c].reduce((a, g) => a + Math.abs(g), 0));
  });
  return [maxAbs(y.data), dx, dGamma, dBeta];
}

/** max |a − b| / scale. */
export function errorRelativeTo(a: Tensor, b: Tensor, scale: number): number {
  expect(a.shape).toEqual(b.shape);
  let max = 0;
  for (let i = 0; i < a.size; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max === 0 ? 0 : max / scale;
}

export interface TracedOp {
  /** The primitive op (`mean`, `square`). */
  readonly op: string;
  readonly label: string;
  readonly scope: readonly string[];
  readonly outputName: string | null;
}

/** The op nodes behind `y` in topological order, read from trace() like every picture is. */
export function opsOf(y: Tensor): TracedOp[] {
  const graph = trace(y);
  return graph.filterNodes((_, attrs) => attrs.kind === 'op').map((key) => {
    const op = graph.getNodeAttributes(key) as OpNodeAttributes;
    const output = graph.getNodeAttributes(graph.outNeighbors(key)[0]) as TensorNodeAttributes;
    return { op: op.op, label: op.label, scope: op.scope, outputName: output.name };
  });
}
