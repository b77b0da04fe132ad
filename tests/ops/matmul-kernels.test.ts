import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as gg from '../../src/index.js';
import { batchedProduct } from '../../src/ops/matmul.js';
import { matmulInto } from '../../src/ops/matmul-kernels.js';
import { leaf, shapeArb, valuesFor } from '../helpers.js';

/*
 * The transposed reads must agree with the product of explicitly transposed copies, in every
 * case the kernel tells apart (one row, one column, one shared axis), and the fast backward
 * with the recorded one.
 */

/** Element (i, j) of op(M), M stored rows×columns at `offset`. */
const read = (data: Float64Array, offset: number, columns: number, transposed: boolean, i: number, j: number) =>
  transposed ? data[offset + j * columns + i] : data[offset + i * columns + j];

function naiveProduct(a: Float64Array, ta: boolean, b: Float64Array, tb: boolean, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += read(a, 0, ta ? m : k, ta, i, p) * read(b, 0, tb ? k : n, tb, p, j);
      out.push(sum);
    }
  }
  return out;
}

// Up to 9, so the four-at-a-time loops run with and without a remainder.
const dimension = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 }));

describe('matmulInto', () => {
  it('agrees with the naive product for every transpose and every small shape', () => {
    fc.assert(
      fc.property(dimension, dimension, dimension, fc.boolean(), fc.boolean(), fc.integer(), (m, k, n, ta, tb, seed) => {
        const a = valuesFor([m * k], seed), b = valuesFor([k * n], seed + 1);
        const out = new Float64Array(m * n);
        matmulInto({ data: a, offset: 0, transposed: ta }, { data: b, offset: 0, transposed: tb }, m, k, n, out, 0);
        const expected = naiveProduct(a, ta, b, tb, m, k, n);
        [...out].forEach((value, i) => expect(value).toBeCloseTo(expected[i], 12));
      }),
      { numRuns: 300 },
    );
  });

  it('reads at the offsets and adds to what is in out', () => {
    const a = new Float64Array([9, 1, 2, 3, 4]); // [[1, 2], [3, 4]] from offset 1
    const b = new Float64Array([9, 9, 5, 6]); // [5, 6] from offset 2, as a 2×1 column
    const out = new Float64Array([7, 10, 100]);
    matmulInto({ data: a, offset: 1, transposed: true }, { data: b, offset: 2, transposed: false }, 2, 2, 1, out, 1);
    // [[1, 3], [2, 4]] @ [5, 6] = [23, 34], added from index 1.
    expect([...out]).toEqual([7, 33, 134]);
  });
});

describe('batchedProduct', () => {
  it('equals matmul of explicitly transposed copies, batched with broadcast batch axes', () => {
    fc.assert(
      fc.property(dimension, dimension, dimension, shapeArb(2, 3), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(), (m, k, n, batch, broadcastB, ta, tb, seed) => {
        const aMatrix = ta ? [k, m] : [m, k], bMatrix = tb ? [n, k] : [k, n];
        const a = leaf([...batch, ...aMatrix], seed), b = leaf([...(broadcastB ? batch.map(() => 1) : batch), ...bMatrix], seed + 1);
        const { data, shape } = batchedProduct(a, ta, b, tb);
        const expected = gg.matmul(ta ? a.transpose(-2, -1) : a, tb ? b.transpose(-2, -1) : b);
        expect(shape).toEqual(expected.shape);
        [...data].forEach((value, i) => expect(value).toBeCloseTo(expected.storage[i], 12));
      }),
      { numRuns: 200 },
    );
  });
});

describe("matmul's backward", () => {
  it('gives the same gradients unrecorded (transposes read in place) as recorded (transpose nodes)', () => {
    fc.assert(
      fc.property(dimension, dimension, dimension, shapeArb(2, 3), fc.boolean(), fc.integer(), (m, k, n, batch, broadcastB, seed) => {
        const a = leaf([...batch, m, k], seed, undefined, 'a');
        const b = leaf([...(broadcastB ? batch.map(() => 1) : batch), k, n], seed + 1, undefined, 'b');
        const weights = leaf([...batch, m, n], seed + 2);
        const loss = () => gg.matmul(a, b).mul(weights.detach()).sum();
        const fast = gg.grad(loss(), [a, b]);
        const recorded = gg.grad(loss(), [a, b], { createGraph: true });
        fast.forEach((g, i) => {
          expect(recorded[i].node).not.toBeNull();
          [...g.storage].forEach((value, j) => expect(value).toBeCloseTo(recorded[i].storage[j], 12));
        });
      }),
      { numRuns: 100 },
    );
  });
});
