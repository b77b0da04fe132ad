import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { Tensor, avgPool2d, maxPool2d, randn, tensor, type PoolOptions } from 'gradgraph';
import { patchGeometry, type PatchGeometry } from '../../src/ops/conv.js';
import { firstMaxima, firstMaximaOfAnyWindows } from '../../src/ops/pool.js';
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

/**
 * The pick as specified, element by element: in each window (its part inside the image), the
 * first NaN, else the first element no later one exceeds; -1 for a window with nothing inside.
 */
function specifiedPicks(values: Float64Array, [N, C, H, W]: readonly number[], g: PatchGeometry): number[] {
  const picks: number[] = [];
  for (let plane = 0; plane < N * C; plane++) {
    for (let oh = 0; oh < g.output[0]; oh++) {
      for (let ow = 0; ow < g.output[1]; ow++) {
        let best = -1;
        for (let i = 0; i < g.kernel[0]; i++) {
          for (let j = 0; j < g.kernel[1]; j++) {
            const row = oh * g.stride[0] - g.padding[0] + i * g.dilation[0], col = ow * g.stride[1] - g.padding[1] + j * g.dilation[1];
            if (row < 0 || row >= H || col < 0 || col >= W) continue;
            const index = (plane * H + row) * W + col;
            const [value, bestValue] = [values[index], values[best]];
            if (best < 0 || (!Number.isNaN(bestValue) && (Number.isNaN(value) || value > bestValue))) best = index;
          }
        }
        picks.push(best);
      }
    }
  }
  return picks;
}

describe('maxPool2d picks', () => {
  // Ties, NaN, ±0 and ±∞ often, next to arbitrary doubles.
  const value = fc.oneof(
    { arbitrary: fc.constantFrom(0, -0, 1, -1, Infinity, -Infinity, NaN), weight: 3 },
    { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 3 },
    { arbitrary: fc.double(), weight: 1 },
  );
  const imageOf = (shape: readonly number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return fc.array(value, { minLength: size, maxLength: size }).map((values) => new Tensor(Float64Array.from(values), shape));
  };
  const shape = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 2, max: 9 }));

  it('takes the same inputs on the fast paths (2×2, any unpadded kernel) as the scan of any windows, and as specified', () => {
    const kernel = fc.oneof(fc.constant<[number, number]>([2, 2]), fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })));
    const arb = fc.record({ shape, kernel, stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })) })
      .filter(({ shape, kernel }) => kernel[0] <= shape[2] && kernel[1] <= shape[3])
      .chain(({ shape, kernel, stride }) => imageOf(shape).map((x) => ({ x, kernel, stride })));
    fc.assert(fc.property(arb, ({ x, kernel, stride }) => {
      const geometry = patchGeometry('test', [x.shape[2], x.shape[3]], kernel, { stride });
      const fast = Array.from(firstMaxima(x, geometry));
      expect(fast).toEqual(Array.from(firstMaximaOfAnyWindows(x, geometry)));
      expect(fast).toEqual(specifiedPicks(x.storage, x.shape, geometry));
    }), { numRuns: 400 });
  });

  it('scans any windows as specified: padded, dilated, overlapping or apart', () => {
    const kernel = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }));
    const arb = fc.record({
      shape,
      kernel,
      stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
      pad: fc.tuple(fc.boolean(), fc.boolean()),
    }).filter(({ shape, kernel, dilation }) => [0, 1].every((axis) => shape[axis + 2] >= dilation[axis] * (kernel[axis] - 1) + 1))
      .chain((options) => imageOf(options.shape).map((x) => ({ x, ...options })));
    fc.assert(fc.property(arb, ({ x, kernel, stride, dilation, pad }) => {
      const padding = kernel.map((k, axis) => (pad[axis] ? Math.floor(k / 2) : 0)) as [number, number];
      const geometry = patchGeometry('test', [x.shape[2], x.shape[3]], kernel, { stride, padding, dilation });
      const specified = specifiedPicks(x.storage, x.shape, geometry);
      fc.pre(specified.every((pick) => pick >= 0));
      expect(Array.from(firstMaximaOfAnyWindows(x, geometry))).toEqual(specified);
      expect(Array.from(firstMaxima(x, geometry))).toEqual(specified);
    }), { numRuns: 300 });
  });

  it('forwards the picked values (±0 and NaN as they are) and sends each gradient back to its pick on the fast path', () => {
    const arb = fc.record({ shape, stride: fc.integer({ min: 2, max: 3 }) }).chain(({ shape, stride }) => imageOf(shape).map((x) => ({ x, stride })));
    fc.assert(fc.property(arb, ({ x, stride }) => {
      const leafX = new Tensor(x.storage.slice(), x.shape, { requiresGrad: true });
      const y = maxPool2d(leafX, 2, { stride });
      const picks = specifiedPicks(x.storage, x.shape, patchGeometry('test', [x.shape[2], x.shape[3]], [2, 2], { stride }));
      expect(Array.from(y.storage)).toEqual(picks.map((pick) => x.storage[pick]));
      const g = picks.map((_, i) => i + 1);
      y.backward(new Tensor(Float64Array.from(g), y.shape));
      const expected = new Array<number>(x.size).fill(0);
      picks.forEach((pick, i) => (expected[pick] = g[i]));
      expect(Array.from(leafX.grad!.storage)).toEqual(expected);
    }), { numRuns: 100 });
  });
});

describe('avgPool2d', () => {
  it('counts padding zeros in the mean (PyTorch\'s count_include_pad default)', () => {
    const x = tensor([[[[4]]]]);
    expect(avgPool2d(x, 2, { stride: 1, padding: 1 }).toArray()).toEqual([[[[1, 1], [1, 1]]]]);
  });
});
