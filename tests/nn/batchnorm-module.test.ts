import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { batchNorm, BatchNorm1d, BatchNorm2d, BN_STEPS, noGrad, randn, tensor, type Tensor } from 'gradgraph';
import { channelValues, meanOf, relativeError, varianceOf } from './helpers.js';
import { expectClose, fixtures, toTensor as fixtureTensor } from '../fixtures/nets-fixtures.js';

/** The running statistics after `batches`, worked out in plain loops from PyTorch's definition. */
function expectedRunning(batches: readonly Tensor[], momentum: number) {
  const channels = batches[0].shape[1];
  const mean = new Array<number>(channels).fill(0);
  const variance = new Array<number>(channels).fill(1);
  for (const batch of batches) {
    channelValues(batch).forEach((values, c) => {
      const m = values.length;
      const unbiased = (varianceOf(values) * m) / (m - 1);
      mean[c] = (1 - momentum) * mean[c] + momentum * meanOf(values);
      variance[c] = (1 - momentum) * variance[c] + momentum * unbiased;
    });
  }
  return { mean, variance };
}

describe('BatchNorm1d', () => {
  it('has parameters gamma = 1, beta = 0 and buffers runningMean = 0, runningVar = 1', () => {
    const bn = new BatchNorm1d(3);
    expect(bn.parameters()).toEqual([bn.gamma, bn.beta]);
    expect([...bn.gamma!.data, ...bn.beta!.data]).toEqual([1, 1, 1, 0, 0, 0]);
    expect([...bn.runningMean.data, ...bn.runningVar.data]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(bn.runningMean.requiresGrad || bn.runningVar.requiresGrad).toBe(false);
    expect(new BatchNorm1d(3, { affine: false }).parameters()).toEqual([]);
  });

  it('in training mode normalizes with the batch statistics, as batchNorm', () => {
    const bn = new BatchNorm1d(3);
    bn.gamma!.data.set([1, 2, 3]);
    bn.beta!.data.set([0, -1, 1]);
    const x = randn([6, 3], { seed: 1 });
    expect(relativeError(bn.call(x), batchNorm(x, bn.gamma, bn.beta))).toBe(0);
  });

  it('updates the running statistics with momentum, from the unbiased batch variance', () => {
    for (const momentum of [0.1, 0.3]) {
      const bn = new BatchNorm1d(3, { momentum });
      const batches = [0, 1, 2].map((seed) => randn([5, 3], { seed }));
      for (const batch of batches) bn.call(batch);
      const expected = expectedRunning(batches, momentum);
      expected.mean.forEach((value, c) => expect(bn.runningMean.data[c]).toBeCloseTo(value, 14));
      expected.variance.forEach((value, c) => expect(bn.runningVar.data[c]).toBeCloseTo(value, 14));
    }
  });

  it('in eval mode normalizes with the running statistics and leaves them alone', () => {
    const bn = new BatchNorm1d(2, { eps: 1e-3 });
    bn.runningMean.data.set([1, -2]);
    bn.runningVar.data.set([4, 0.25]);
    bn.gamma!.data.set([2, 3]);
    bn.beta!.data.set([0.5, -0.5]);
    bn.eval();
    const x = randn([3, 2], { seed: 4 });
    const y = bn.call(x);
    for (let n = 0; n < 3; n++) {
      expect(y.data[n * 2]).toBeCloseTo((2 * (x.data[n * 2] - 1)) / Math.sqrt(4 + 1e-3) + 0.5, 14);
      expect(y.data[n * 2 + 1]).toBeCloseTo((3 * (x.data[n * 2 + 1] + 2)) / Math.sqrt(0.25 + 1e-3) - 0.5, 14);
    }
    expect([...bn.runningMean.data, ...bn.runningVar.data]).toEqual([1, -2, 4, 0.25]);
    // One example at a time is fine in eval mode.
    expect(bn.call(randn([1, 2], { seed: 5 })).shape).toEqual([1, 2]);
  });

  it('after training, eval mode matches an independent computation from the recorded batches', () => {
    const bn = new BatchNorm1d(3, { momentum: 0.2 });
    const batches = [10, 11, 12, 13].map((seed) => randn([8, 3], { seed }));
    for (const batch of batches) bn.call(batch);
    const { mean, variance } = expectedRunning(batches, 0.2);
    const x = randn([2, 3], { seed: 20 });
    const y = noGrad(() => bn.eval().call(x));
    for (let i = 0; i < x.size; i++) {
      const c = i % 3;
      expect(y.data[i]).toBeCloseTo((x.data[i] - mean[c]) / Math.sqrt(variance[c] + 1e-5), 12);
    }
  });

  it('refuses one value per channel in training mode, like PyTorch', () => {
    expect(() => new BatchNorm1d(3).call(randn([1, 3]))).toThrow(/expected more than 1 value per channel when training/);
  });

  it('accepts [N, C] and [N, C, L], naming the expected shape otherwise', () => {
    expect(new BatchNorm1d(3).call(randn([2, 3, 4], { seed: 1 })).shape).toEqual([2, 3, 4]);
    expect(() => new BatchNorm1d(4).call(randn([2, 3]))).toThrow(/BatchNorm1d: expected x of shape \[N, 4\] or \[N, 4, L\], got \[2, 3\]/);
    expect(() => new BatchNorm1d(3).call(randn([2, 3, 2, 2]))).toThrow(/got \[2, 3, 2, 2\]/);
    expect(() => new BatchNorm1d(3, { momentum: 2 })).toThrow(/momentum must be between 0 and 1, got 2/);
    // null is PyTorch's cumulative average (tested below), never read as 0, which froze the running statistics.
    expect(new BatchNorm1d(3, { momentum: null }).momentum).toBeNull();
    expect(() => new BatchNorm2d(3, { momentum: '0.1' as never })).toThrow('BatchNorm2d: momentum must be between 0 and 1, got the string \'0.1\' (or null, for a cumulative average)');
    expect(() => new BatchNorm1d(3, { eps: -1 })).toThrow(/eps must be a finite number >= 0/);
  });

  it('records its steps under its scope, and its gradient passes gradcheck', () => {
    const bn = new BatchNorm1d(2, { name: 'bn' });
    const y = bn.call(randn([4, 2], { seed: 3, requiresGrad: true }));
    expect(y.node?.scope).toEqual(['bn']);
    expect(y.node?.label).toBe(BN_STEPS[BN_STEPS.length - 1]);
    expect((x: Tensor) => bn.call(x)).toPassGradcheck([randn([4, 2], { seed: 3, requiresGrad: true, name: 'x' })]);
  });
});

describe('BatchNorm2d', () => {
  it('normalizes [N, C, H, W] per channel and keeps running statistics over N·H·W values', () => {
    const bn = new BatchNorm2d(2);
    const batches = [1, 2].map((seed) => randn([2, 2, 3, 3], { seed }));
    const outputs = batches.map((batch) => bn.call(batch));
    channelValues(outputs[1]).forEach((values) => {
      expect(meanOf(values)).toBeCloseTo(0, 12);
      expect(varianceOf(values)).toBeCloseTo(1, 4);
    });
    const { mean, variance } = expectedRunning(batches, 0.1);
    mean.forEach((value, c) => expect(bn.runningMean.data[c]).toBeCloseTo(value, 14));
    variance.forEach((value, c) => expect(bn.runningVar.data[c]).toBeCloseTo(value, 14));
    expect(() => bn.call(randn([2, 2]))).toThrow(/BatchNorm2d: expected x of shape \[N, 2, H, W\], got \[2, 2\]/);
  });
});

describe('BatchNorm1d fused: running statistics from the moments it normalized with', () => {
  it('keeps a constant channel\'s running variance finite and equal to the explicit graph\'s, at ε > 0 and at ε = 0', () => {
    const x = tensor([[1, 5, -2], [1, 7, 0.5], [1, -3, 4]]);
    for (const eps of [1e-5, 0]) {
      const explicit = new BatchNorm1d(3, { eps }), fused = new BatchNorm1d(3, { eps, fused: true });
      explicit.call(x);
      fused.call(x);
      // Channel 0 is constant: variance 0, so the running variance moves from 1 to 0.9.
      expect(fused.runningVar.storage[0]).toBe(0.9);
      [...fused.runningVar.storage].forEach((v, c) => expect(v).toBeCloseTo(explicit.runningVar.storage[c], 14));
      [...fused.runningMean.storage].forEach((v, c) => expect(v).toBeCloseTo(explicit.runningMean.storage[c], 15));
    }
  });
});

describe('BatchNorm2d: momentum null, numBatchesTracked, fused', () => {
  const reference = fixtures.batchNormMomentumNone;

  it('with momentum null keeps cumulative averages, as PyTorch does (values from PyTorch)', () => {
    const bn = new BatchNorm2d(3, { momentum: null });
    reference.batches.forEach((batch, i) => expectClose(bn.call(fixtureTensor(batch)), reference.outputs[i], `output of batch ${i}`));
    expectClose(bn.runningMean, reference.runningMean, 'runningMean');
    expectClose(bn.runningVar, reference.runningVar, 'runningVar');
    expect(bn.numBatchesTracked.item()).toBe(reference.numBatchesTracked);
    expectClose(bn.eval().call(fixtureTensor(reference.evalInput)), reference.evalOutput, 'eval output');
  });

  it('counts training batches, not eval ones', () => {
    const bn = new BatchNorm1d(2);
    bn.call(randn([4, 2], { seed: 1 }));
    bn.call(randn([4, 2], { seed: 2 }));
    bn.eval().call(randn([4, 2], { seed: 3 }));
    expect(bn.numBatchesTracked.item()).toBe(2);
  });

  it('fused: one node, the same output, gradients and running statistics as the explicit graph', () => {
    const explicit = new BatchNorm2d(3, { momentum: null });
    const fused = new BatchNorm2d(3, { momentum: null, fused: true });
    for (const batch of reference.batches) {
      const x1 = fixtureTensor(batch, { requiresGrad: true }), x2 = fixtureTensor(batch, { requiresGrad: true });
      const y1 = explicit.call(x1), y2 = fused.call(x2);
      expect(y2.node?.op.name).toBe('batchNormFused');
      expectClose(y2, { shape: [...y1.shape], data: Array.from(y1.data) }, 'fused output');
      const g = randn(y1.shape, { seed: 7 });
      y1.backward(g);
      y2.backward(g);
      expectClose(x2.grad, { shape: [...x1.shape], data: Array.from(x1.grad!.data) }, 'fused ∂x');
    }
    expectClose(fused.runningMean, { shape: [3], data: Array.from(explicit.runningMean.data) }, 'fused runningMean');
    expectClose(fused.runningVar, { shape: [3], data: Array.from(explicit.runningVar.data) }, 'fused runningVar');
    expect(() => new BatchNorm1d(2, { fused: true, primitives: true })).toThrow('BatchNorm1d: fused and primitives do not go together');
    expect(() => new BatchNorm1d(2, { momentum: 2 })).toThrow('BatchNorm1d: momentum must be between 0 and 1, got 2 (or null, for a cumulative average)');
  });
});
