import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, meanSquare, tensor, type Tensor } from '../../src/index.js';
import { compileRowGradients } from '../../src/ops/kernels.js';
import { leaf, positive, shapeArb, valuesFor } from '../helpers.js';

/*
 * mul's and div's backward where a full-size operand meets one repeated along its rows takes one
 * pass (the fast path) unless the backward is recorded; recorded, it is the general path of ops.
 * Likewise the small gradients worked out with kernels alone when no op would be recorded. Both
 * must give the same gradients bit for bit.
 */

/** A full shape and a row of it: its trailing axes, with or without leading 1s. */
const fullAndRowArb = shapeArb(3, 4)
  .filter((shape) => shape.length >= 1 && shape.reduce((p, d) => p * d, 1) > 1)
  .chain((full) => fc.tuple(fc.constant(full), fc.integer({ min: 1, max: full.length }), fc.boolean()))
  .map(([full, kept, withOnes]) => {
    const trailing = full.slice(full.length - kept);
    return { full, row: withOnes ? [...full.slice(0, full.length - kept).map(() => 1), ...trailing] : trailing };
  });

function sameBits(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.storage, (v, i) => Object.is(v, b.storage[i]))).not.toContain(false);
}

describe.each([
  ['mul, row second', (full: Tensor, row: Tensor) => full.mul(row)],
  ['mul, row first', (full: Tensor, row: Tensor) => row.mul(full)],
  ['div by a row', (full: Tensor, row: Tensor) => full.div(row)],
  // Small gradients worked out with kernels alone when nothing is recorded (opsOnlyWrap).
  ['sub of a row, then sqrt', (full: Tensor, row: Tensor) => full.sub(row).square().add(1).sqrt()],
  ['mean and meanSquare over the rows', (full: Tensor, row: Tensor) => full.sub(full.mean(0, { keepdims: true })).add(meanSquare(full.mul(row), 0, { keepdims: true }))],
] as const)('%s', (_name, op) => {
  it('gives the general (recorded) path\'s gradients bit for bit', () => {
    fc.assert(
      fc.property(fullAndRowArb, fc.integer(), ({ full, row }, seed) => {
        const a = leaf(full, seed, undefined, 'a');
        const b = leaf(row, seed + 1, positive, 'b');
        const g = tensor(valuesFor(full, seed + 2), { shape: full });
        const fast = grad(op(a, b), [a, b], { gradOutputs: g });
        const general = grad(op(a, b), [a, b], { gradOutputs: g, createGraph: true });
        sameBits(fast[0], general[0]);
        sameBits(fast[1], general[1]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('compileRowGradients', () => {
  it('computes g ∘ row and the column sums of g · q', () => {
    const kernel = compileRowGradients('x / y');
    const g = Float64Array.of(1, 2, 3, 4, 5, 6);
    const { full, sums } = kernel(g, Float64Array.of(1, 2, 4), Float64Array.of(6, 5, 4, 3, 2, 1));
    expect([...full]).toEqual([1, 1, 0.75, 4, 2.5, 1.5]);
    expect([...sums]).toEqual([1 * 6 + 4 * 3, 2 * 5 + 5 * 2, 3 * 4 + 6 * 1]);
  });
});
