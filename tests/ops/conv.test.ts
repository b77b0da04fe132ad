import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { conv2d, fold, grad, randn, tidy, unfold, type Conv2dOptions, type Tensor } from 'gradgraph';
import { casesNamed, expectMatchesPyTorch } from '../fixtures/nets-fixtures.js';
import { leaf, withKernels } from '../helpers.js';

describe('conv2d', () => {
  it.each(casesNamed('conv2d').map((c) => [c.name, c] as const))('matches PyTorch: %s', (_name, c) => {
    expectMatchesPyTorch(c, (x, w, b) => conv2d(x!, w!, b, c.options as Conv2dOptions));
  });

  it('agrees with the definition, a sum over the kernel window, on a worked example', () => {
    // One 3×3 image, one 2×2 filter of ones: each output is the sum of a 2×2 window, plus the bias.
    const x = randn([1, 1, 3, 3], { seed: 1 });
    const y = conv2d(x, randn([1, 1, 2, 2], { seed: 2 }).mul(0).add(1), randn([1], { seed: 3 }).mul(0).add(0.5));
    const at = (r: number, c: number) => x.data[r * 3 + c];
    expect(y.shape).toEqual([1, 1, 2, 2]);
    for (const [r, c] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      expect(y.data[r * 2 + c]).toBeCloseTo(at(r, c) + at(r, c + 1) + at(r + 1, c) + at(r + 1, c + 1) + 0.5, 14);
    }
  });

  const geometry = fc.record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    perGroupIn: fc.integer({ min: 1, max: 2 }),
    perGroupOut: fc.integer({ min: 1, max: 2 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    extra: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    bias: fc.boolean(),
    seed: fc.integer(),
  });

  it('passes gradcheck and gradgradcheck over random shapes, strides, padding, dilation and groups', () => {
    fc.assert(fc.property(geometry, (g) => {
      const size = g.kernel.map((k, axis) => g.dilation[axis] * (k - 1) + 1 + g.extra[axis] - 2 * g.padding[axis]).map((s) => Math.max(s, 1));
      const x = leaf([g.n, g.groups * g.perGroupIn, size[0], size[1]], g.seed, undefined, 'x');
      const w = leaf([g.groups * g.perGroupOut, g.perGroupIn, ...g.kernel], g.seed + 1, undefined, 'weight');
      const b = leaf([g.groups * g.perGroupOut], g.seed + 2, undefined, 'bias');
      const options: Conv2dOptions = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups };
      const fn = g.bias ? (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, options) : (x: Tensor, w: Tensor) => conv2d(x, w, null, options);
      const inputs = g.bias ? [x, w, b] : [x, w];
      expect(fn).toPassGradcheck(inputs);
      expect(fn).toPassGradgradcheck(inputs);
    }), { numRuns: 12 });
  });

  // Images large enough that the backward's products run on WebAssembly (∂x: Wᵀ read in place;
  // ∂W: a dot product per element, the patches read transposed in place).
  const largeGeometry = fc.record({
    n: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 2 }),
    perGroupIn: fc.integer({ min: 1, max: 3 }),
    perGroupOut: fc.integer({ min: 1, max: 5 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    stride: fc.integer({ min: 1, max: 2 }),
    size: fc.tuple(fc.integer({ min: 6, max: 19 }), fc.integer({ min: 6, max: 19 })),
    seed: fc.integer(),
  });

  type LargeGeometry = typeof largeGeometry extends fc.Arbitrary<infer T> ? T : never;

  /** conv2d's output and its gradients for x and weight, not recorded unless `createGraph`. */
  const convGradients = (g: LargeGeometry, createGraph: boolean) => tidy(() => {
    const x = randn([g.n, g.groups * g.perGroupIn, ...g.size], { seed: g.seed, requiresGrad: true });
    const w = randn([g.groups * g.perGroupOut, g.perGroupIn, ...g.kernel], { seed: g.seed + 1, requiresGrad: true });
    const y = conv2d(x, w, null, { stride: g.stride, padding: 1, groups: g.groups });
    return [y, ...grad(y, [x, w], { gradOutputs: [randn(y.shape, { seed: g.seed + 2 })], createGraph })].map((t) => t.storage.slice());
  });

  it('gives on the WebAssembly kernels the JavaScript kernels\' output and gradients, bit for bit', () => {
    fc.assert(fc.property(largeGeometry, (g) => {
      const reference = withKernels('js', () => convGradients(g, false)), fast = withKernels('wasm', () => convGradients(g, false));
      fast.forEach((values, i) => expect(values.findIndex((v, j) => !Object.is(v, reference[i][j])), ['y', '∂x', '∂W'][i]).toBe(-1));
    }), { numRuns: 25 });
  });

  it('reads the transposes in place when the backward is not recorded: ∂x to the bit, ∂W summed in another order, to rounding', () => {
    fc.assert(fc.property(largeGeometry, (g) => {
      const [, dxRecorded, dwRecorded] = convGradients(g, true), [, dx, dw] = convGradients(g, false);
      expect(dx.findIndex((v, j) => !Object.is(v, dxRecorded[j]))).toBe(-1);
      // ∂W: four running sums (a dot product) against one; the difference is rounding, a few ulps of the sum of magnitudes.
      const scale = dwRecorded.reduce((largest, v) => Math.max(largest, Math.abs(v)), 1);
      dw.forEach((v, j) => expect(Math.abs(v - dwRecorded[j])).toBeLessThan(1e-12 * scale));
    }), { numRuns: 25 });
  });

  it('is one node labelled with its kernel and stride', () => {
    const x = randn([1, 2, 5, 5], { seed: 1, requiresGrad: true });
    expect(conv2d(x, randn([3, 2, 3, 3], { seed: 2 })).node?.label).toBe('conv 3×3');
    expect(conv2d(x, randn([3, 2, 3, 3], { seed: 2 }), null, { stride: 2 }).node?.label).toBe('conv 3×3 /2');
  });

  it('names the argument and both shapes when they do not fit', () => {
    const x = randn([1, 3, 5, 5], { seed: 1 });
    expect(() => conv2d(x, randn([4, 2, 3, 3]))).toThrow('conv2d: weight of shape [4, 2, 3, 3] expects 2 input channels (2 per group × 1 groups), but x of shape [1, 3, 5, 5] has 3');
    expect(() => conv2d(x, randn([4, 3, 3, 3]), randn([3]))).toThrow('conv2d: bias must have shape [4], one value per output channel, got [3]');
    expect(() => conv2d(x, randn([4, 1, 3, 3]), null, { groups: 2 })).toThrow('conv2d: groups (2) must divide both the input channels (3');
    expect(() => conv2d(x, randn([4, 3, 7, 3]))).toThrow('conv2d: the kernel spans 7×3');
    expect(() => conv2d(x, randn([4, 3, 3, 3]), null, { stride: 0 })).toThrow('conv2d: stride must be an integer >= 1 or a pair [h, w] of them, got 0');
    expect(() => conv2d(x, randn([4, 3, 3, 3]), null, { padding: [1, 2, 3] as unknown as [number, number] })).toThrow('conv2d: padding must be an integer >= 0 or a pair [h, w] of them, got [1,2,3]');
    expect(() => conv2d(x, randn([4, 3, 3, 3]), null, { strides: 2 } as Conv2dOptions)).toThrow("conv2d: unknown option 'strides'; did you mean 'stride'?");
    expect(() => conv2d(randn([3, 5, 5]), randn([4, 3, 3, 3]))).toThrow('conv2d: x must have shape [N, C, H, W], got [3, 5, 5]');
  });
});

describe('unfold and fold', () => {
  it('unfold copies each patch into a column, zeros in the padding (PyTorch F.unfold layout)', () => {
    const x = randn([1, 1, 2, 2], { seed: 4 });
    const [a, b, c, d] = x.data;
    const columns = unfold(x, 2, { padding: 1 });
    expect(columns.shape).toEqual([1, 4, 9]);
    // Row k·kW + j holds kernel offset (k, j); column oh·oW + ow the output position.
    expect(Array.from(columns.data.slice(0, 9))).toEqual([0, 0, 0, 0, a, b, 0, c, d]);
  });

  it('unfold puts x[c, oh·s − p + i·d, ow·s − p + j·d] (0 in the padding) at row (c, i, j), column (oh, ow), over random geometries', () => {
    const axis = fc.record({ size: fc.integer({ min: 1, max: 9 }), kernel: fc.integer({ min: 1, max: 4 }), stride: fc.integer({ min: 1, max: 3 }), padding: fc.integer({ min: 0, max: 3 }), dilation: fc.integer({ min: 1, max: 3 }) })
      .filter((a) => a.size + 2 * a.padding >= a.dilation * (a.kernel - 1) + 1);
    fc.assert(fc.property(fc.tuple(axis, axis), fc.integer({ min: 1, max: 3 }), fc.integer(), ([v, h], channels, seed) => {
      const x = randn([2, channels, v.size, h.size], { seed });
      const columns = unfold(x, [v.kernel, h.kernel], { stride: [v.stride, h.stride], padding: [v.padding, h.padding], dilation: [v.dilation, h.dilation] });
      const [, rows, positions] = columns.shape;
      const oW = Math.floor((h.size + 2 * h.padding - h.dilation * (h.kernel - 1) - 1) / h.stride) + 1;
      const source = (a: typeof v, o: number, k: number) => o * a.stride - a.padding + k * a.dilation;
      for (let image = 0; image < 2; image++) {
        for (let row = 0; row < rows; row++) {
          const c = Math.floor(row / (v.kernel * h.kernel)), i = Math.floor(row / h.kernel) % v.kernel, j = row % h.kernel;
          for (let position = 0; position < positions; position++) {
            const r = source(v, Math.floor(position / oW), i), q = source(h, position % oW, j);
            const inside = r >= 0 && r < v.size && q >= 0 && q < h.size;
            const expected = inside ? x.storage[((image * channels + c) * v.size + r) * h.size + q] : 0;
            expect(columns.storage[(image * rows + row) * positions + position]).toBe(expected);
          }
        }
      }
    }), { numRuns: 200 });
  });

  it('fold is unfold\'s adjoint: ⟨unfold(x), c⟩ = ⟨x, fold(c)⟩', () => {
    const options = { stride: [2, 1] as [number, number], padding: 1, dilation: [1, 2] as [number, number] };
    const x = randn([2, 3, 5, 6], { seed: 5 });
    const columns = unfold(x, [3, 2], options);
    const c = randn(columns.shape, { seed: 6 });
    const left = columns.mul(c).sum().item();
    const right = x.mul(fold(c, [5, 6], [3, 2], options)).sum().item();
    expect(left).toBeCloseTo(right, 10);
  });

  it('each is the other\'s gradient, to any order', () => {
    const x = leaf([1, 2, 4, 3], 7);
    expect((t: Tensor) => unfold(t, 2, { stride: 1 })).toPassGradgradcheck([x]);
    const c = leaf([1, 8, 6], 8);
    expect((t: Tensor) => fold(t, [4, 3], 2)).toPassGradgradcheck([c]);
  });

  it('fold refuses columns of the wrong shape, naming the one it expects', () => {
    expect(() => fold(randn([1, 5, 6]), [4, 3], 2)).toThrow('fold: columns must have shape [N, C·4, 6] for a 2×2 kernel over 4×3 (3×2 positions), got [1, 5, 6]');
  });
});
