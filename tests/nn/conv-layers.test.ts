import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { AvgPool2d, Conv2d, Dropout, Flatten, GroupNorm, LayerNorm, LogSoftmax, MaxPool2d, Softmax, avgPool2d, conv2d, groupNorm, layerNorm, logSoftmax, maxPool2d, randn, softmax, type Tensor } from 'gradgraph';

describe('Conv2d', () => {
  it('holds weight [outC, inC/groups, kH, kW] and bias [outC] in ±1/√fanIn, and calls conv2d with its options', () => {
    const conv = new Conv2d(4, 6, [3, 2], { stride: 2, padding: 1, groups: 2, seed: 1 });
    expect(conv.weight.shape).toEqual([6, 2, 3, 2]);
    expect(conv.bias?.shape).toEqual([6]);
    const bound = 1 / Math.sqrt(2 * 3 * 2);
    expect([...conv.weight.data, ...conv.bias!.data].every((v) => Math.abs(v) <= bound)).toBe(true);
    const x = randn([2, 4, 5, 5], { seed: 2 });
    expect(Array.from(conv.call(x).data)).toEqual(Array.from(conv2d(x, conv.weight, conv.bias, { stride: 2, padding: 1, groups: 2 }).data));
    expect(new Conv2d(1, 1, 3, { bias: false }).bias).toBeNull();
  });

  it('is seeded, and says which input shape it expects', () => {
    expect(Array.from(new Conv2d(1, 2, 3, { seed: 5 }).weight.data)).toEqual(Array.from(new Conv2d(1, 2, 3, { seed: 5 }).weight.data));
    expect(() => new Conv2d(3, 2, 3).call(randn([1, 2, 5, 5]))).toThrow('Conv2d: expected x of shape [N, 3, H, W], got [1, 2, 5, 5]');
    expect(() => new Conv2d(3, 2, 3, { stide: 1 } as never)).toThrow("Conv2d: unknown option 'stide'; did you mean 'stride'?");
  });
});

describe('pooling, LayerNorm, GroupNorm modules', () => {
  const x = randn([2, 4, 6, 6], { seed: 3 });
  const same = (a: Tensor, b: Tensor) => expect(Array.from(a.data)).toEqual(Array.from(b.data));

  it('call their functions with their options', () => {
    same(new MaxPool2d(3, { stride: 2, padding: 1 }).call(x), maxPool2d(x, 3, { stride: 2, padding: 1 }));
    same(new AvgPool2d(2).call(x), avgPool2d(x, 2));
    same(new LayerNorm([6, 6]).call(x), layerNorm(x, [6, 6]));
    same(new GroupNorm(2, 4, { eps: 1e-3 }).call(x), groupNorm(x, 2, null, null, { eps: 1e-3 }));
  });

  it('LayerNorm and GroupNorm learn gamma and beta of PyTorch\'s shapes (none with affine: false)', () => {
    expect(new LayerNorm([6, 6]).parameters().map((p) => p.shape)).toEqual([[6, 6], [6, 6]]);
    expect(new GroupNorm(2, 4).parameters().map((p) => p.shape)).toEqual([[4], [4]]);
    expect(new GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
    expect(() => new GroupNorm(3, 4)).toThrow('GroupNorm: numGroups (3) must divide numChannels (4)');
  });
});

describe('Dropout', () => {
  it('zeroes about p of the values, scales the rest by 1/(1 − p), and passes the gradient through the same mask', () => {
    const x = randn([100, 100], { seed: 4, requiresGrad: true });
    const y = new Dropout(0.3, { seed: 1 }).call(x);
    const kept = Array.from(y.data).filter((v) => v !== 0).length / y.size;
    expect(kept).toBeGreaterThan(0.68);
    expect(kept).toBeLessThan(0.72);
    for (let i = 0; i < 50; i++) if (y.data[i] !== 0) expect(y.data[i]).toBeCloseTo(x.data[i] / 0.7, 12);
    y.sum().backward();
    for (let i = 0; i < 50; i++) expect(x.grad!.data[i]).toBe(y.data[i] === 0 ? 0 : 1 / 0.7);
  });

  it('is seeded, and the identity in eval mode', () => {
    const x = randn([10, 10], { seed: 5 });
    expect(Array.from(new Dropout(0.5, { seed: 2 }).call(x).data)).toEqual(Array.from(new Dropout(0.5, { seed: 2 }).call(x).data));
    expect(new Dropout(0.5).eval().call(x)).toBe(x);
    expect(Array.from(new Dropout(1).call(x).data).every((v) => v === 0)).toBe(true);
    expect(() => new Dropout(1.5)).toThrow('Dropout: p must be a probability from 0 to 1, got 1.5');
  });
});

describe('Flatten, Softmax, LogSoftmax', () => {
  it('call flatten (all but the batch axis by default), softmax and logSoftmax', () => {
    const x = randn([2, 3, 4, 5], { seed: 6 });
    expect(new Flatten().call(x).shape).toEqual([2, 60]);
    expect(new Flatten({ startAxis: 2 }).call(x).shape).toEqual([2, 3, 20]);
    const logits = randn([3, 4], { seed: 7 });
    expect(Array.from(new Softmax(1).call(logits).data)).toEqual(Array.from(softmax(logits, 1).data));
    expect(Array.from(new LogSoftmax(-1).call(logits).data)).toEqual(Array.from(logSoftmax(logits, -1).data));
    expect(() => new Flatten({ start: 1 } as never)).toThrow("Flatten: unknown option 'start'");
  });
});
