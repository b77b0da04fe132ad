import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, div, grad, mul, randn, sub, tensor, type Tensor } from 'gradgraph';
import { sameBits, withKernels } from '../helpers.js';

/* x + row, x − row and x·row through the kernels' affine store, x / row through their quotient (src/ops/row-affine.ts): the loop's bits, special values included. */

const SPECIAL = [0, -0, 1, -1, 0.1, -2.5e-300, 1e300, -1e300, Infinity, -Infinity, NaN, 3e-320];

const OPS = [['add', add], ['sub', sub], ['mul', mul], ['div', div]] as const;

function expectLoopBits(x: Tensor, row: Tensor): void {
  for (const [name, op] of OPS) {
    for (const [a, b] of [[x, row], [row, x]]) {
      const fast = withKernels('wasm', () => op(a, b));
      const loop = withKernels('js', () => op(a, b));
      expect(fast.shape, name).toEqual(loop.shape);
      expect(sameBits(fast, loop), `${name}([${a.shape}], [${b.shape}])`).toBe(true);
    }
  }
}

describe('a row against a full-size tensor', () => {
  it('gives the loop\'s bits for special values: signed zeros (−0 stays −0), infinities, NaN, subnormals, ±0 divisors', () => {
    const channels = 12, rows = 512;
    const x = tensor(Float64Array.from({ length: rows * channels }, (_, i) => SPECIAL[(i * 7 + (i >> 4)) % SPECIAL.length]), { shape: [rows, channels] });
    const row = tensor(Float64Array.from(SPECIAL), { shape: [channels] });
    expectLoopBits(x, row);
    // x − row where both are −0 and +0: −0 − (+0) is −0.
    const zeros = tensor(new Float64Array(8192).fill(-0), { shape: [4096, 2] });
    const fast = withKernels('wasm', () => sub(zeros, tensor(new Float64Array(2), { shape: [2] })));
    expect(Object.is(fast.storage[0], -0)).toBe(true);
  });

  it('gives the loop\'s bits on random shapes: [N, C] with [C] and [1, C], [N, H, C] with [C] and [H, C]', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 300 }), fc.integer({ min: 0, max: 1e6 }), (rows, channels, seed) => {
      const x = randn([Math.ceil(4096 / channels) + rows, channels], { seed });
      expectLoopBits(x, randn([channels], { seed: seed + 1 }));
      expectLoopBits(x, randn([1, channels], { seed: seed + 2 }));
      const x3 = randn([rows + 1, 2, channels], { seed: seed + 3 });
      if (x3.size >= 4096) {
        expectLoopBits(x3, randn([channels], { seed: seed + 4 }));
        expectLoopBits(x3, randn([2, channels], { seed: seed + 5 }));
      }
    }), { numRuns: 40 });
  });
});

describe('a block against a full-size tensor ([C, 1, 1] against [N, C, H, W]: the kernels\' runs)', () => {
  it('gives the loop\'s bits on random shapes, special values included', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1e6 }), (h, channels, w, seed) => {
      const rows = Math.ceil(4096 / (channels * h * w)) + (seed % 3);
      const x = randn([rows, channels, h, w], { seed });
      for (let i = 0; i < x.size; i += 13) x.storage[i] = SPECIAL[(i + seed) % SPECIAL.length];
      const perChannel = randn([channels, 1, 1], { seed: seed + 1 });
      perChannel.storage[0] = SPECIAL[seed % SPECIAL.length];
      expectLoopBits(x, perChannel);
      expectLoopBits(x, randn([1, channels, 1, 1], { seed: seed + 2 }));
      expectLoopBits(x, randn([channels, h, 1], { seed: seed + 3 }));
    }), { numRuns: 40 });
  });
});

describe('mul\'s and div\'s gradients where a row meets a full-size tensor', () => {
  /** Both gradients of x·row, row·x, x / row and row / x, on the kernels and on the loop, bit for bit. */
  function expectGradientBits(x: Tensor, row: Tensor, g: Tensor): void {
    for (const [name, op] of [['mul', mul], ['div', div]] as const) {
      for (const [a, b] of [[x, row], [row, x]]) {
        const run = () => grad(op(a, b), [a, b], { gradOutputs: [g] });
        const fast = withKernels('wasm', run), loop = withKernels('js', run);
        fast.forEach((t, i) => expect(sameBits(t, loop[i]), `gradient ${i} of ${name}([${a.shape}], [${b.shape}])`).toBe(true));
      }
    }
  }

  it('give the loop\'s bits for special values in g, x and the row', () => {
    const channels = 12, rows = 512;
    const special = (seed: number) => Float64Array.from({ length: rows * channels }, (_, i) => SPECIAL[(i * seed + (i >> 4)) % SPECIAL.length]);
    const x = tensor(special(7), { shape: [rows, channels], requiresGrad: true });
    const row = tensor(Float64Array.from(SPECIAL), { shape: [channels], requiresGrad: true });
    expectGradientBits(x, row, tensor(special(5), { shape: [rows, channels] }));
  });

  it('give the loop\'s bits on random shapes: [N, C] with [C], [N, H, C] with [H, C]', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 1e6 }), (rows, channels, seed) => {
      const shape = [Math.ceil(4096 / channels) + rows, channels];
      const x = randn(shape, { seed, requiresGrad: true });
      expectGradientBits(x, randn([channels], { seed: seed + 1, requiresGrad: true }), randn(shape, { seed: seed + 2 }));
      const x3 = randn([rows + 1, 2, channels], { seed: seed + 3, requiresGrad: true });
      if (x3.size >= 4096) expectGradientBits(x3, randn([2, channels], { seed: seed + 4, requiresGrad: true }), randn(x3.shape, { seed: seed + 5 }));
    }), { numRuns: 30 });
  });
});
