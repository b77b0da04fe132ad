import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { broadcastCopy, broadcastPattern, compileBinary, compileReduce } from '../../src/ops/kernels.js';
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
    ['general', [1, 3, 1], [2, 3, 4]],
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
