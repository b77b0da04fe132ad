import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { batchNorm, batchNormFused, grad, ones, randn, tensor, zeros, type Tensor } from 'gradgraph';
import { relativeError } from './helpers.js';

function problem(shape: number[], seed: number) {
  const channels = shape[1];
  return {
    x: randn(shape, { seed, requiresGrad: true, name: 'x' }),
    gamma: randn([channels], { seed: seed + 1, requiresGrad: true, name: 'gamma' }),
    beta: randn([channels], { seed: seed + 2, requiresGrad: true, name: 'beta' }),
    gradOutput: randn(shape, { seed: seed + 3 }),
  };
}

describe('batchNormFused', () => {
  it('is one node named batchNormFused, labelled batch norm (fused)', () => {
    const { x, gamma, beta } = problem([4, 3], 1);
    const y = batchNormFused(x, gamma, beta);
    expect(y.node?.op.name).toBe('batchNormFused');
    expect(y.node?.label).toBe('batch norm (fused)');
    expect(y.node?.inputs).toEqual([x, gamma, beta]);
    expect(y.node?.scope).toEqual([]);
  });

  it('agrees with the explicit graph to 1e-12 on the output and all three gradients', () => {
    for (const [shape, seed] of [[[8, 5], 1], [[3, 4, 2, 3], 2], [[64, 32], 3], [[2, 3, 5], 4]] as const) {
      const { x, gamma, beta, gradOutput } = problem([...shape], seed);
      const explicit = batchNorm(x, gamma, beta, { eps: 1e-3 });
      const fused = batchNormFused(x, gamma, beta, { eps: 1e-3 });
      expect(relativeError(fused, explicit)).toBeLessThan(1e-12);
      const expected = grad(explicit, [x, gamma, beta], { gradOutputs: [gradOutput] });
      // The loop backward (no createGraph) and the recorded tensor-op backward (createGraph).
      for (const createGraph of [false, true]) {
        const actual = grad(fused, [x, gamma, beta], { gradOutputs: [gradOutput], createGraph });
        actual.forEach((g, i) => expect(relativeError(g, expected[i])).toBeLessThan(1e-12));
      }
    }
  });

  it('differentiates each call with its own batch statistics, whatever ran since', () => {
    const first = problem([6, 4], 11), second = problem([6, 4], 21);
    const y = batchNormFused(first.x, first.gamma, first.beta);
    // Another forward in between, on other values (as checkRecordedOps runs one on moved inputs).
    batchNormFused(second.x.mul(3).add(1), second.gamma, second.beta);
    const actual = grad(y, [first.x, first.gamma, first.beta], { gradOutputs: [first.gradOutput] });
    const expected = grad(batchNorm(first.x, first.gamma, first.beta), [first.x, first.gamma, first.beta], { gradOutputs: [first.gradOutput] });
    actual.forEach((g, i) => expect(relativeError(g, expected[i])).toBeLessThan(1e-12));
  });

  it('computes only the gradients that are asked for', () => {
    const { x, gamma, beta, gradOutput } = problem([4, 2], 5);
    const [dGamma] = grad(batchNormFused(x, gamma, beta), [gamma], { gradOutputs: [gradOutput] });
    const [expected] = grad(batchNorm(x, gamma, beta), [gamma], { gradOutputs: [gradOutput] });
    expect(relativeError(dGamma, expected)).toBeLessThan(1e-12);
  });

  it('passes gradcheck and gradgradcheck on [N, C] and [N, C, H, W]', () => {
    for (const shape of [[5, 3], [2, 2, 2, 3]]) {
      const { x, gamma, beta } = problem(shape, 6);
      const f = (a: Tensor, g: Tensor, b: Tensor) => batchNormFused(a, g, b);
      expect(f).toPassGradcheck([x, gamma, beta]);
      expect(f).toPassGradgradcheck([x, gamma, beta]);
    }
  });

  it('stays accurate with an offset of 1e6 and finite on a constant feature', () => {
    const { x, gamma, beta } = problem([16, 3], 7);
    const shifted = tensor(x.data.map((v) => v + 1e6), { shape: [16, 3], requiresGrad: true });
    expect(relativeError(batchNormFused(shifted, gamma, beta), batchNorm(x, gamma, beta))).toBeLessThan(1e-8);
    const constant = tensor([[2, 1], [2, 5], [2, 3]], { requiresGrad: true });
    const y = batchNormFused(constant, ones([2]), zeros([2]));
    expect(y.data.every(Number.isFinite)).toBe(true);
    const [dx] = grad(y, [constant], { gradOutputs: [randn([3, 2], { seed: 8 })] });
    expect(dx.data.every(Number.isFinite)).toBe(true);
    expect(relativeError(y, batchNorm(constant, ones([2]), zeros([2])))).toBeLessThan(1e-12);
  });

  it('checks its arguments like batchNorm', () => {
    expect(() => batchNormFused(randn([4, 3]), ones([4]), zeros([3]))).toThrow(/batchNormFused: gamma has shape \[4\] but must have shape \[3\]/);
    expect(() => batchNormFused(randn([1, 3]), ones([3]), zeros([3]))).toThrow(/more than 1 value per channel/);
    expect(() => batchNormFused(randn([4, 3]), null as unknown as Tensor, zeros([3]))).toThrow(/batchNormFused: gamma must be a Tensor/);
  });
});
