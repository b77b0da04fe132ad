import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { avgPool2d, maxPool2d, randn, tensor, type PoolOptions, type Tensor } from 'gradgraph';
import { casesNamed, expectMatchesPyTorch } from '../fixtures/nets-fixtures.js';
import { leaf } from '../helpers.js';

const pools = [['maxPool2d', maxPool2d], ['avgPool2d', avgPool2d]] as const;

describe.each(pools)('%s', (name, pool) => {
  it.each(casesNamed(name).map((c) => [c.name, c] as const))('matches PyTorch: %s', (_name, c) => {
    const { kernelSize, ...options } = c.options as unknown as PoolOptions & { kernelSize: number | [number, number] };
    expectMatchesPyTorch(c, (x) => pool(x!, kernelSize, options));
  });

  it('passes gradcheck and gradgradcheck over random shapes, kernels, strides and padding', () => {
    const arb = fc.record({
      kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      pad: fc.tuple(fc.boolean(), fc.boolean()),
      extra: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      channels: fc.integer({ min: 1, max: 2 }),
      seed: fc.integer(),
    });
    fc.assert(fc.property(arb, ({ kernel, stride, pad, extra, channels, seed }) => {
      const padding = kernel.map((k, axis) => (pad[axis] ? Math.floor(k / 2) : 0)) as [number, number];
      const x = leaf([2, channels, kernel[0] + extra[0], kernel[1] + extra[1]], seed);
      const fn = (t: Tensor) => pool(t, kernel, { stride, padding });
      expect(fn).toPassGradcheck([x]);
      expect(fn).toPassGradgradcheck([x]);
    }), { numRuns: 15 });
  });

  it('refuses padding over half the kernel and unknown options', () => {
    const x = randn([1, 1, 4, 4]);
    expect(() => pool(x, 2, { padding: 2 })).toThrow(`${name}: padding [2, 2] must be at most half the kernel 2×2`);
    expect(() => pool(x, 2, { strde: 1 } as PoolOptions)).toThrow(`${name}: unknown option 'strde'; did you mean 'stride'?`);
    expect(() => pool(randn([4, 4]), 2)).toThrow(`${name}: x must have shape [N, C, H, W], got [4, 4]`);
  });
});

describe('maxPool2d', () => {
  it('sends the gradient of a tied window to its first maximum, as PyTorch does', () => {
    const x = tensor([[[[1, 1], [0, 1]]]], { requiresGrad: true });
    maxPool2d(x, 2).backward(tensor([[[[5]]]]));
    expect(x.grad?.toArray()).toEqual([[[[5, 0], [0, 0]]]]);
  });

  it('propagates a NaN in a window', () => {
    const x = tensor([[[[1, NaN], [3, 2]]]]);
    expect(Number.isNaN(maxPool2d(x, 2).item())).toBe(true);
  });
});

describe('avgPool2d', () => {
  it('counts padding zeros in the mean (PyTorch\'s count_include_pad default)', () => {
    const x = tensor([[[[4]]]]);
    expect(avgPool2d(x, 2, { stride: 1, padding: 1 }).toArray()).toEqual([[[[1, 1], [1, 1]]]]);
  });
});
