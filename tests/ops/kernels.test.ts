import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addBlockSumsOfProducts, addRowProductsInto, addRowSumsOfProducts, addRowsInto, blockRun, broadcastCopy, broadcastPattern, compileBinary, compileReduce, compileRowGradients } from '../../src/ops/kernels.js';
import { broadcastShapes, reducedShape, type Shape } from '../../src/tensor/shape.js';
import { allIndices, broadcastableTo, broadcastPairArb, broadcastRead, shapeArb, valuesFor } from '../helpers.js';

/* The fast paths must agree with a naive element-by-element reference on every pattern. */

const subtract = compileBinary('x - y');

function naiveBinary(a: { data: Float64Array; shape: Shape }, b: { data: Float64Array; shape: Shape }) {
  const shape = broadcastShapes('test', a.shape, b.shape);
  return allIndices(shape).map((index) => broadcastRead(a, index) - broadcastRead(b, index));
}

/** subtract agrees with the naive reference on every pair of shapes `pairs` draws. */
function agreesOn(pairs: fc.Arbitrary<[number[], number[]]>): void {
  fc.assert(
    fc.property(pairs, fc.integer(), ([shapeA, shapeB], seed) => {
      const a = { data: valuesFor(shapeA, seed), shape: shapeA };
      const b = { data: valuesFor(shapeB, seed + 1), shape: shapeB };
      const shape = broadcastShapes('test', shapeA, shapeB);
      expect([...subtract(a.data, shapeA, b.data, shapeB, shape, 'sub')]).toEqual(naiveBinary(a, b));
    }),
    { numRuns: 300 },
  );
}

describe('compileBinary', () => {
  it('agrees with the naive reference for every broadcasting pattern', () => {
    agreesOn(broadcastPairArb);
  });

  it('agrees with the naive reference where loops take four elements per turn and then the rest', () => {
    // Sizes up to 11: each fast path runs its four-per-turn loop and its remainder loop.
    agreesOn(fc.array(fc.integer({ min: 1, max: 11 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
      fc.tuple(broadcastableTo(shape), fc.boolean()).map(([small, first]): [number[], number[]] => (first ? [small, shape] : [shape, small]))));
  });

  it.each([
    ['full', [2, 3], [2, 3]],
    ['full', [1, 6], [6]],
    ['scalar', [1, 1], [4, 5]],
    ['row', [1, 5], [4, 5]],
    ['row', [5], [4, 5]],
    ['column', [4, 1], [4, 5]],
    ['column', [2, 3, 1, 1], [2, 3, 4, 5]],
    ['block', [1, 3, 1], [2, 3, 4]],
    ['block', [3, 1, 1], [2, 3, 4, 5]],
    ['block', [3, 4, 1], [2, 3, 4, 5]],
    ['general', [2, 1, 4], [2, 3, 4]],
    ['general', [3, 1, 5], [2, 3, 4, 5]],
  ] as const)('classifies %s: %j in %j', (pattern, shape, out) => {
    expect(broadcastPattern(shape, out)).toBe(pattern);
    // And each pattern computes the same as the general path would.
    const a = { data: valuesFor(out, 1), shape: out };
    const b = { data: valuesFor(shape, 2), shape };
    expect([...subtract(a.data, out, b.data, shape, out, 'sub')]).toEqual(naiveBinary(a, b));
    expect([...subtract(b.data, shape, a.data, out, out, 'sub')]).toEqual(naiveBinary(b, a));
  });
});

describe('broadcastCopy', () => {
  it('agrees with the naive reference for every pattern', () => {
    fc.assert(
      fc.property(shapeArb(4).chain((out) => fc.tuple(fc.constant(out), broadcastableTo(out))), fc.integer(), ([out, shape], seed) => {
        const input = { data: valuesFor(shape, seed), shape };
        expect([...broadcastCopy(input.data, shape, out, 'broadcastTo')]).toEqual(allIndices(out).map((index) => broadcastRead(input, index)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('compileReduce', () => {
  const sum = compileReduce('0', 'acc + x');
  it('agrees with the naive reference for leading, trailing and scattered axes', () => {
    fc.assert(
      fc.property(shapeArb(4), fc.integer(), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (shape, seed, pick) => {
        const axes = shape.map((_, i) => i).filter((i) => pick[i]);
        const data = valuesFor(shape, seed);
        const outShape = reducedShape(shape, axes, true);
        const expected = new Array(outShape.reduce((p, d) => p * d, 1)).fill(0);
        allIndices(shape).forEach((index, flat) => {
          const outIndex = index.map((v, axis) => (axes.includes(axis) ? 0 : v));
          const position = outIndex.reduce((acc, v, axis) => acc * outShape[axis] + v, 0);
          expected[position] += data[flat];
        });
        const got = [...sum(data, shape, axes)];
        got.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 12));
      }),
      { numRuns: 300 },
    );
  });
});

describe('compileReduce over every axis but a block, leading or in the middle (LayerNorm over the trailing axes, BN over [N, C, H, W])', () => {
  const sum = compileReduce('0', 'acc + x');
  it('adds each output\'s values in input order: the same bits as the odometer walk', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 3, maxLength: 5 }), fc.integer(), fc.integer({ min: 1, max: 3 }), fc.boolean(), (shape, seed, keptLength, inside) => {
        // Keep one block of axes, with at least one reduced axis after it, and one before it when `inside`.
        const first = inside ? 1 : 0, last = Math.min(shape.length - 1, first + keptLength);
        const axes = shape.map((_, i) => i).filter((i) => i < first || i >= last);
        // Values of many scales, so that the order of the additions shows in the bits.
        const data = valuesFor(shape, seed, (v) => v * 10 ** ((Math.abs(seed) + Math.round(v * 1000)) % 17 - 8));
        const outShape = reducedShape(shape, axes, true);
        const expected = new Float64Array(outShape.reduce((p, d) => p * d, 1));
        allIndices(shape).forEach((index, flat) => {
          const position = index.reduce((acc, v, axis) => acc * outShape[axis] + (axes.includes(axis) ? 0 : v), 0);
          expected[position] += data[flat];
        });
        expect(sum(data, shape, axes)).toEqual(expected);
        // The sums of products over such a block: the same bits as the products summed so.
        const q = valuesFor(shape, seed + 1);
        const products = data.map((v, i) => v * q[i]);
        const sums = new Float64Array(expected.length);
        addBlockSumsOfProducts(sums, data, q, blockRun(outShape, shape));
        expect(sums).toEqual(sum(products, shape, axes));
      }),
      { numRuns: 300 },
    );
  });
});

/*
 * The row walks take eight rows per turn, then four, then one. A sum along the rows must add the
 * same values in the same order as a plain walk row by row (so the bits agree), whatever the
 * number of rows: up to 19 runs the turns of eight rows, of four and of one, each with and without
 * the others.
 */
describe('row walks', () => {
  const rowsAndRow = fc.tuple(fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 7 }), fc.integer());

  /** For each row position j, `visit(i, j)` over the rows in order: the reference walk. */
  function rowByRow(rows: number, m: number, visit: (i: number, j: number) => void): void {
    for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) visit(r * m + j, j);
  }

  it('sum over the leading axis: the same bits as adding row after row', () => {
    const sum = compileReduce('0', 'acc + x');
    fc.assert(fc.property(rowsAndRow, ([rows, m, seed]) => {
      const input = valuesFor([rows, m], seed);
      const expected = new Float64Array(m);
      rowByRow(rows, m, (i, j) => { expected[j] += input[i]; });
      expect([...sum(input, [rows, m], [0])]).toEqual([...expected]);
    }), { numRuns: 200 });
  });

  it('row gradients: g ∘ row and the sums of g · q, the same bits as row after row', () => {
    const kernel = compileRowGradients('x / y');
    fc.assert(fc.property(rowsAndRow, ([rows, m, seed]) => {
      const g = valuesFor([rows, m], seed);
      const q = valuesFor([rows, m], seed + 1);
      const row = valuesFor([m], seed + 2, (v) => v + 3);
      const full = new Float64Array(rows * m);
      const sums = new Float64Array(m);
      rowByRow(rows, m, (i, j) => { full[i] = g[i] / row[j]; sums[j] += g[i] * q[i]; });
      const got = kernel(g, row, q);
      expect([...got.full]).toEqual([...full]);
      expect([...got.sums]).toEqual([...sums]);
    }), { numRuns: 200 });
  });

  it('adding a row, a product with a row, and the sums of products: the same bits as row after row', () => {
    fc.assert(fc.property(rowsAndRow, ([rows, m, seed]) => {
      const target = valuesFor([rows, m], seed);
      const x = valuesFor([rows, m], seed + 1);
      const row = valuesFor([m], seed + 2);
      const plusRow = target.slice();
      const plusProducts = target.slice();
      const sums = row.slice();
      rowByRow(rows, m, (i, j) => { plusRow[i] += row[j]; plusProducts[i] += x[i] * row[j]; sums[j] += target[i] * x[i]; });
      const gotRow = target.slice();
      addRowsInto(gotRow, row);
      const gotProducts = target.slice();
      addRowProductsInto(gotProducts, x, row);
      const gotSums = row.slice();
      addRowSumsOfProducts(gotSums, target, x);
      expect([...gotRow]).toEqual([...plusRow]);
      expect([...gotProducts]).toEqual([...plusProducts]);
      expect([...gotSums]).toEqual([...sums]);
    }), { numRuns: 200 });
  });
});
