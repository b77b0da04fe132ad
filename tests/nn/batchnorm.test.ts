import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { ADD_EPS_LABEL, batchNorm, batchNormInference, BN_STEPS, grad, ones, randn, SQUARE_LABEL, tensor, zeros, type Tensor } from 'gradgraph';
import { channelValues, meanOf, opsOf, relativeError, varianceOf } from './helpers.js';

function inputs2d() {
  return {
    x: tensor([[1, 2], [3, 6]], { requiresGrad: true, name: 'x' }),
    gamma: ones([2], { isParameter: true, name: 'gamma' }),
    beta: zeros([2], { isParameter: true, name: 'beta' }),
  };
}

describe('batchNorm: the explicit graph', () => {
  it('computes (x − μ) / √(σ² + ε) · γ + β with the batch statistics (worked by hand)', () => {
    const x = tensor([[1, 2], [3, 6]]);
    // Feature 0: μ = 2, σ² = 1. Feature 1: μ = 4, σ² = 4.
    const y = batchNorm(x, tensor([2, 0.5]), tensor([10, -1]), { eps: 0.01 });
    const expected = [
      [2 * -1 / Math.sqrt(1.01) + 10, 0.5 * -2 / Math.sqrt(4.01) - 1],
      [2 * 1 / Math.sqrt(1.01) + 10, 0.5 * 2 / Math.sqrt(4.01) - 1],
    ];
    expect(relativeError(y, tensor(expected))).toBeLessThan(1e-15);
  });

  it('records one labelled node per step, in BN_STEPS order, with eps added inside the sqrt step', () => {
    const { x, gamma, beta } = inputs2d();
    const y = batchNorm(x, gamma, beta);
    const labels = opsOf(y).map((node) => node.label);
    expect(labels).toEqual(['mean', 'subtract', 'variance', ADD_EPS_LABEL, 'sqrt', 'divide', 'scale', 'shift']);
    expect(labels.filter((label) => label !== ADD_EPS_LABEL)).toEqual([...BN_STEPS]);
    expect(opsOf(y).map((node) => node.outputName)).toEqual(['μ', 'x − μ', 'σ²', 'σ² + ε', 'σ', 'x̂', 'γ·x̂', 'y']);
  });

  it('expands the variance step into square, then mean, with primitives: true (same values)', () => {
    const { x, gamma, beta } = inputs2d();
    const fine = batchNorm(x, gamma, beta, { primitives: true });
    const nodes = opsOf(fine);
    expect(nodes.map((node) => node.label)).toEqual(['mean', 'subtract', SQUARE_LABEL, 'variance', ADD_EPS_LABEL, 'sqrt', 'divide', 'scale', 'shift']);
    expect(nodes[2].op).toBe('square');
    expect(nodes[3].op).toBe('mean');
    expect(relativeError(fine, batchNorm(x, gamma, beta))).toBeLessThan(1e-15);
  });

  it('adds no scope of its own (modules add theirs)', () => {
    const { x, gamma, beta } = inputs2d();
    expect(opsOf(batchNorm(x, gamma, beta)).every((node) => node.scope.length === 0)).toBe(true);
  });

  it('skips the scale and shift steps when gamma and beta are null', () => {
    const { x } = inputs2d();
    const y = batchNorm(x, null, null);
    expect(y.node?.label).toBe('divide');
    expect(y.name).toBe('x̂');
  });

  it('normalizes [N, C, H, W] per channel over N, H and W', () => {
    const x = randn([3, 2, 2, 3], { seed: 5 });
    const gamma = tensor([1.5, -2]);
    const beta = tensor([0.25, 3]);
    const y = batchNorm(x, gamma, beta);
    const xs = channelValues(x);
    const ys = channelValues(y);
    ys.forEach((values, c) => {
      const mu = meanOf(xs[c]);
      const std = Math.sqrt(varianceOf(xs[c]) + 1e-5);
      values.forEach((value, i) => expect(value).toBeCloseTo(gamma.data[c] * (xs[c][i] - mu) / std + beta.data[c], 13));
    });
  });

  it('stays accurate for features offset by 1e6 with unit noise (two-pass variance)', () => {
    const noise = randn([16, 3], { seed: 7, requiresGrad: true });
    const offset = new Float64Array(noise.data.length).fill(1e6);
    const shifted = tensor(noise.data.map((v, i) => v + offset[i]), { shape: [16, 3], requiresGrad: true });
    const gamma = tensor([1, 2, 3], { requiresGrad: true });
    const beta = tensor([0, 1, -1], { requiresGrad: true });
    const reference = batchNorm(noise, gamma, beta);
    const y = batchNorm(shifted, gamma, beta);
    expect(relativeError(y, reference)).toBeLessThan(1e-8);
    const g = randn([16, 3], { seed: 8 });
    const expected = grad(reference, [noise, gamma, beta], { gradOutputs: [g] });
    const actual = grad(y, [shifted, gamma, beta], { gradOutputs: [g] });
    actual.forEach((value, i) => expect(relativeError(value, expected[i])).toBeLessThan(1e-8));

    // The test can tell: the one-pass variance E[x²] − E[x]² loses every digit at this offset.
    const column = channelValues(shifted)[0];
    const onePass = meanOf(column.map((v) => v * v)) - meanOf(column) ** 2;
    expect(Math.abs(onePass - varianceOf(column)) / varianceOf(column)).toBeGreaterThan(1e-3);
  });

  it('keeps a constant feature finite: output beta, gradients finite', () => {
    const x = tensor([[5, 1], [5, 2], [5, 4]], { requiresGrad: true });
    const gamma = tensor([3, 1], { requiresGrad: true });
    const beta = tensor([0.5, 0], { requiresGrad: true });
    const y = batchNorm(x, gamma, beta);
    expect(channelValues(y)[0]).toEqual([0.5, 0.5, 0.5]);
    const upstream = randn([3, 2], { seed: 1 });
    const grads = grad(y, [x, gamma, beta], { gradOutputs: [upstream] });
    for (const g of grads) expect(g.data.every(Number.isFinite)).toBe(true);
    // With σ² = 0 (and x̂ = 0) the gradient w.r.t. x is γ/√ε · (g − mean g) for that feature.
    const g0 = channelValues(upstream)[0];
    const expected = g0.map((g) => (3 / Math.sqrt(1e-5)) * (g - meanOf(g0)));
    channelValues(grads[0])[0].forEach((value, i) => expect(value).toBeCloseTo(expected[i], 9));
  });

  it('passes gradcheck and gradgradcheck on [N, C] and [N, C, H, W]', () => {
    for (const shape of [[5, 3], [2, 2, 2, 3]]) {
      const x = randn(shape, { seed: 11, requiresGrad: true, name: 'x' });
      const gamma = randn([shape[1]], { seed: 12, requiresGrad: true, name: 'gamma' });
      const beta = randn([shape[1]], { seed: 13, requiresGrad: true, name: 'beta' });
      const f = (a: Tensor, g: Tensor, b: Tensor) => batchNorm(a, g, b, { primitives: shape.length === 4 });
      expect(f).toPassGradcheck([x, gamma, beta]);
      expect(f).toPassGradgradcheck([x, gamma, beta]);
    }
  });
});

describe('batchNorm: bad input', () => {
  it('names gamma or beta and both shapes when one does not match the channels', () => {
    const x = randn([4, 3]);
    expect(() => batchNorm(x, ones([2]), zeros([3]))).toThrow(/batchNorm: gamma has shape \[2\] but must have shape \[3\].*x \(shape \[4, 3\]/);
    expect(() => batchNorm(x, ones([3]), zeros([1, 3]))).toThrow(/batchNorm: beta has shape \[1, 3\] but must have shape \[3\]/);
    expect(() => batchNorm(randn([2, 3, 4]), ones([4]), zeros([4]))).toThrow(/gamma has shape \[4\] but must have shape \[3\]/);
  });

  it('needs at least 2 axes', () => {
    expect(() => batchNorm(randn([5]), ones([5]), zeros([5]))).toThrow(/batchNorm: x must have at least 2 axes.*got shape \[5\]/);
  });

  it('refuses one value per channel, like PyTorch, and allows N = 1 with spatial axes', () => {
    expect(() => batchNorm(randn([1, 3]), ones([3]), zeros([3]))).toThrow(/expected more than 1 value per channel when training, got x of shape \[1, 3\]/);
    expect(() => batchNorm(randn([1, 2, 1, 1]), ones([2]), zeros([2]))).toThrow(/more than 1 value per channel/);
    expect(batchNorm(randn([1, 2, 2, 2], { seed: 1 }), ones([2]), zeros([2])).shape).toEqual([1, 2, 2, 2]);
  });

  it('rejects a negative or non-finite eps', () => {
    expect(() => batchNorm(randn([2, 2]), null, null, { eps: -1 })).toThrow(/eps must be a finite number >= 0, got -1/);
    expect(() => batchNorm(randn([2, 2]), null, null, { eps: Number.NaN })).toThrow(/eps/);
  });
});

describe('batchNormInference', () => {
  it('normalizes with the given statistics (worked by hand), one value per channel allowed', () => {
    const x = tensor([[1, 2]]);
    const y = batchNormInference(x, tensor([0, 4]), tensor([3, 1]), tensor([2, 1]), tensor([0, 1]), { eps: 1 });
    expect(relativeError(y, tensor([[2 * 1 / 2, (2 - 4) / Math.sqrt(2) + 1]]))).toBeLessThan(1e-15);
  });

  it('labels the steps from subtract on; σ from the running variance is a constant, not recorded', () => {
    const x = randn([3, 2, 2, 2], { seed: 3, requiresGrad: true });
    const y = batchNormInference(x, zeros([2]), ones([2]), ones([2], { isParameter: true }), zeros([2], { isParameter: true }));
    const labels = opsOf(y).map((node) => node.label).filter((label) => label !== 'reshape');
    expect(labels).toEqual(['subtract', 'divide', 'scale', 'shift']);
  });

  it('checks the statistics shapes', () => {
    expect(() => batchNormInference(randn([2, 3]), zeros([2]), ones([3]), null, null)).toThrow(/batchNormInference: mean has shape \[2\] but must have shape \[3\]/);
  });
});
