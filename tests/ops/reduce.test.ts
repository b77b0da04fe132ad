import { describe, expect, it } from 'vitest';
import { add, batchNorm, grad, mean, meanSquare, randn, sum, sumTo, tensor, variance } from 'gradgraph';
import { sameBits, withKernels } from '../helpers.js';

/* Sums over the leading axes of large tensors go to the kernels in use (src/ops/sums.ts): the same bits as the loops. */

describe('sums over the leading axes', () => {
  it('give the loops\' bits on the WebAssembly kernels: sum, mean and meanSquare, one or two leading axes, odd widths', () => {
    for (const shape of [[256, 64], [4096, 3], [9, 1001], [5, 7, 123], [2, 4096]]) {
      const x = randn(shape, { seed: shape[0] });
      // Values that round when added, of both signs and several scales, and a signed zero.
      x.storage[1] = -0;
      for (let i = 0; i < x.size; i += 7) x.storage[i] *= 1e8;
      for (const [name, reduce] of [['sum', sum], ['mean', mean], ['meanSquare', meanSquare]] as const) {
        for (const axes of shape.length > 2 ? [[0], [0, 1]] : [[0]]) {
          const fast = withKernels('wasm', () => reduce(x, axes));
          const loop = withKernels('js', () => reduce(x, axes));
          expect(sameBits(fast, loop), `${name} over ${axes} of [${shape}]`).toBe(true);
          expect(fast.shape).toEqual(loop.shape);
        }
      }
    }
  });

  it('add the rows in order, from 0: a column of −0 sums to +0, as the loop adds it', () => {
    const x = tensor(new Float64Array(8192).fill(-0), { shape: [4096, 2] });
    const fast = withKernels('wasm', () => sum(x, 0));
    expect(Object.is(fast.storage[0], 0)).toBe(true);
    expect(sameBits(fast, withKernels('js', () => sum(x, 0)))).toBe(true);
  });

  it('give the loops\' bits wherever an op sums: sumTo, a row operand\'s gradient summed back, the variance', () => {
    const x = randn([512, 24], { seed: 5, requiresGrad: true });
    x.storage[3] = -0;
    for (let i = 0; i < x.size; i += 5) x.storage[i] *= 1e8;
    const row = randn([24], { seed: 6, requiresGrad: true });
    const g = randn([512, 24], { seed: 7 });
    const cases = {
      sumTo: () => [sumTo(x, [1, 24])],
      'add\'s gradients': () => grad(add(x, row), [x, row], { gradOutputs: [g] }),
      variance: () => [variance(x, 0)],
    };
    for (const [name, run] of Object.entries(cases)) {
      const fast = withKernels('wasm', run), loop = withKernels('js', run);
      fast.forEach((t, i) => expect(sameBits(t, loop[i]), `${name} [${i}]`).toBe(true));
    }
  });

  /** Explicit BN's three gradients on the WebAssembly kernels and on the loops, bit for bit, with −0 and large values in g. */
  function expectExplicitBatchNormBits(shape: number[]): void {
    const x = randn(shape, { seed: shape[1], requiresGrad: true });
    const gamma = randn([shape[1]], { seed: 2, requiresGrad: true }), beta = randn([shape[1]], { seed: 3, requiresGrad: true });
    const g = randn(shape, { seed: 4 });
    for (let i = 0; i < g.size; i += 11) g.storage[i] = i % 2 ? -0 : 1e8 * g.storage[i];
    const run = () => grad(batchNorm(x, gamma, beta), [x, gamma, beta], { gradOutputs: [g] });
    const fast = withKernels('wasm', run), loop = withKernels('js', run);
    fast.forEach((t, i) => expect(sameBits(t, loop[i]), `gradient ${i} at [${shape}]`).toBe(true));
  }

  it('give the loops\' bits where mean and meanSquare add their gradient in place into x\'s so far (explicit BN), a row of whole steps or not', () => {
    for (const shape of [[512, 24], [300, 20], [700, 10], [4096, 3]]) expectExplicitBatchNormBits(shape);
  });

  it('give the loops\' bits on [N, C, H, W] too, where each channel\'s value is added over its run, large and small', () => {
    for (const shape of [[16, 6, 7, 9], [4, 3, 5, 5], [2, 10, 33, 1], [3, 1, 40, 40]]) expectExplicitBatchNormBits(shape);
  });
});
