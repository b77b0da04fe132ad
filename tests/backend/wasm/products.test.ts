import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../../src/backend/js.js';
import type { MatrixOperand } from '../../../src/backend/kernels.js';
import { productOnWasm, wasmArena } from '../../../src/backend/wasm/kernels.js';
import { dotModuleBytes } from '../../../src/backend/wasm/dots.js';
import { productModuleBytes } from '../../../src/backend/wasm/products.js';

/*
 * The WebAssembly products (products.ts, dots.ts) against the loops they stand in for
 * (matmul-loops.ts), bit for bit: every element of out, NaN and −0 included, and nothing of out
 * outside its matrix. The product's tiles are two rows by eight columns, then two columns, then
 * one, and a last odd row alone; the dots' two rows by two, with k in steps of four and then the
 * rest; so shapes up to 40 cover every remainder. The operands and out sit at offsets inside
 * larger buffers, in the kernels' memory (read and written in place) or not (copied in, and out).
 */

/** Values that round interestingly: signed zeros, NaN, infinities, subnormals, values near overflow, ordinary ones. */
const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 5e-324, -3e-310, 1e-300, 1e300, -1.7e308, 1, -1, 0.1];
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.double() },
);

/** `values` in a buffer of `before` values more at the front and a few at the back: in the kernels' memory or an ordinary array. */
function placed(values: readonly number[], before: number, inArena: boolean): Float64Array {
  const length = before + values.length + 3;
  const buffer = inArena ? wasmArena().take(length) : new Float64Array(length);
  if (buffer === undefined) throw new Error(`no room in the kernels' memory for ${length} values`);
  buffer.fill(-7.5);
  buffer.set(values, before);
  return buffer;
}

const firstDifference = (a: Float64Array, b: Float64Array) => a.findIndex((v, i) => !Object.is(v, b[i]));

interface Product {
  readonly a: MatrixOperand;
  readonly b: MatrixOperand;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly out: Float64Array;
  readonly outOffset: number;
}

/** Runs `product` on WebAssembly and on the loops, each into its own copy of out; returns whether WebAssembly took it and the first element that differs (-1: none). */
function compare({ a, b, m, k, n, out, outOffset }: Product): { ran: boolean; difference: number } {
  const expected = out.slice();
  jsKernels.matmulInto(a, b, m, k, n, expected, outOffset);
  const ran = productOnWasm(a, b, m, k, n, out, outOffset);
  return { ran, difference: firstDifference(out, expected) };
}

function release(...buffers: Float64Array[]): void {
  for (const buffer of buffers) if (wasmArena().owns(buffer)) wasmArena().release(buffer);
}

const dimension = fc.integer({ min: 1, max: 40 });

/**
 * Asserts that WebAssembly takes, and adds exactly the loops' values for, products of every
 * shape up to 40 (n from `minColumns`), the operands read transposed as `transposes(n)` draws,
 * all three at offsets, in the kernels' memory or not.
 */
function agreesAtEveryShape(minColumns: number, transposes: (n: number) => fc.Arbitrary<readonly [boolean, boolean]>): void {
  const problems = fc.record({ m: dimension, k: dimension, n: fc.integer({ min: minColumns, max: 40 }) }).chain(({ m, k, n }) => fc.record({
    m: fc.constant(m), k: fc.constant(k), n: fc.constant(n), transposed: transposes(n),
    a: fc.array(value, { minLength: m * k, maxLength: m * k }), b: fc.array(value, { minLength: k * n, maxLength: k * n }),
    out: fc.array(value, { minLength: m * n, maxLength: m * n }),
    offsets: fc.tuple(fc.nat(9), fc.nat(9), fc.nat(9)), inArena: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
  }));
  fc.assert(fc.property(problems, ({ m, k, n, transposed, a, b, out, offsets, inArena }) => {
    const aBuffer = placed(a, offsets[0], inArena[0]), bBuffer = placed(b, offsets[1], inArena[1]), outBuffer = placed(out, offsets[2], inArena[2]);
    try {
      const result = compare({
        a: { data: aBuffer, offset: offsets[0], transposed: transposed[0] }, b: { data: bBuffer, offset: offsets[1], transposed: transposed[1] },
        m, k, n, out: outBuffer, outOffset: offsets[2],
      });
      expect(result).toEqual({ ran: true, difference: -1 });
    } finally {
      release(aBuffer, bBuffer, outBuffer);
    }
  }), { numRuns: 400 });
}

describe('the WebAssembly matrix product', () => {
  it('is a module of its own under the 4 kB a page compiles synchronously, and so are the dot products', () => {
    expect(productModuleBytes().length).toBeLessThan(4096);
    expect(dotModuleBytes().length).toBeLessThan(4096);
  });

  it('adds into out exactly the loops\' values, A as stored or transposed, at every shape up to 40, in the kernels\' memory or copied', () => {
    agreesAtEveryShape(2, () => fc.tuple(fc.boolean(), fc.constant(false)));
  });

  it('takes B transposed where it is stored as read (one shared axis) and dot products (B transposed, or one column), and leaves both transposed and Aᵀ into one column to the loops', () => {
    const cases = [
      { k: 1, n: 5, aTransposed: false, bTransposed: true, ran: true },
      { k: 3, n: 5, aTransposed: false, bTransposed: true, ran: true },
      { k: 3, n: 1, aTransposed: false, bTransposed: false, ran: true },
      { k: 3, n: 1, aTransposed: false, bTransposed: true, ran: true },
      { k: 3, n: 5, aTransposed: true, bTransposed: true, ran: false },
      { k: 3, n: 1, aTransposed: true, bTransposed: false, ran: false },
    ];
    for (const { k, n, aTransposed, bTransposed, ran } of cases) {
      const m = 4;
      const a = placed(Array.from({ length: m * k }, (_, i) => Math.sin(i)), 1, false), b = placed(Array.from({ length: k * n }, (_, i) => Math.cos(i)), 2, false);
      const out = placed(new Array<number>(m * n).fill(0.5), 3, true);
      try {
        const result = compare({ a: { data: a, offset: 1, transposed: aTransposed }, b: { data: b, offset: 2, transposed: bTransposed }, m, k, n, out, outOffset: 3 });
        // Declined, out is untouched (the loops' result differs from it); taken, it is theirs.
        expect(result.ran, `k ${k}, n ${n}, A${aTransposed ? 'ᵀ' : ''} B${bTransposed ? 'ᵀ' : ''}`).toBe(ran);
        if (ran) expect(result.difference).toBe(-1);
        else expect(out.slice(3, 3 + m * n).every((v) => v === 0.5)).toBe(true);
      } finally {
        release(out);
      }
    }
  });

  it('adds into out exactly the loops\' dot products, B transposed or one column, at every shape up to 40, in the kernels\' memory or copied', () => {
    // k from 1: fewer than one step of four, and every remainder after the steps. One column: B
    // as stored (k×1) or transposed (1×k), the same run of values.
    agreesAtEveryShape(1, (n) => fc.tuple(fc.constant(false), n === 1 ? fc.boolean() : fc.constant(true)));
  });

  it('finishes each dot as the loops do: −0 products give +0, and sums that overflow meet in the loops\' association', () => {
    // k = 5: one step of four, then p = 4 into s0. Sums of −0 products are +0 (0 + −0), and
    // out = −0 plus that is +0; an infinity in s3 stays; against its opposite in s0, NaN; and
    // s0 + s1 overflowing while s2 + s3 overflows the other way gives NaN only in the loops'
    // association (s0 + s1) + (s2 + s3): any other order gives ±∞ or 0.
    const rows = [
      { a: [-0, -0, -0, -0, -0], b: [1, 1, 1, 1, 1], out: -0 },
      { a: [1, 1, 1, Infinity, 1], b: [1, 1, 1, 1, 1], out: 0 },
      { a: [-Infinity, 1, 1, Infinity, 1], b: [1, 1, 1, 1, 1], out: 0 },
      { a: [1e308, 1e308, -1e308, -1e308, 0], b: [1, 1, 1, 1, 1], out: 0 },
    ];
    for (const inArena of [false, true]) {
      const a = placed(rows.flatMap((row) => row.a), 0, inArena), b = placed(rows[0].b, 0, inArena), out = placed(rows.map((row) => row.out), 0, inArena);
      try {
        expect(compare({ a: { data: a, offset: 0, transposed: false }, b: { data: b, offset: 0, transposed: false }, m: rows.length, k: 5, n: 1, out, outOffset: 0 })).toEqual({ ran: true, difference: -1 });
        // The loops' own values, so that the comparison above is against these and not against anything else.
        expect([...out.subarray(0, rows.length)]).toEqual([0, Infinity, NaN, NaN]);
      } finally {
        release(a, b, out);
      }
    }
  });

  it('copies a large matrix from elsewhere a block at a time, bit for bit, and leaves to the loops a product no block fits', () => {
    const ordinary = (length: number, seed: number) => placed(Array.from({ length }, (_, i) => Math.sin(seed + i * 0.37)), 2, false);
    const product = (m: number, k: number, n: number, transposed: boolean) => ({
      a: { data: ordinary(m * k, 1), offset: 2, transposed }, b: { data: ordinary(k * n, 2), offset: 2, transposed: false },
      m, k, n, out: ordinary(m * n, 3), outOffset: 2,
    });
    // A linear layer's forward (A 64×1568 in blocks of 10 rows, out 64×10) and its ∂W (the stored
    // A 64×1568 in blocks of 10 steps, out 1568×10 whole); 37 rows of 1,000 in blocks of 16, 16, 5.
    for (const [m, k, n, transposed] of [[64, 1568, 10, false], [1568, 64, 10, true], [37, 1000, 3, false], [1000, 37, 3, true]] as const) {
      expect(compare(product(m, k, n, transposed)), `${m}×${k}×${n}`).toEqual({ ran: true, difference: -1 });
    }
    // No block fits: B whole (plain), out whole (transposed), a row of A or of the stored A.
    for (const [m, k, n, transposed] of [[8, 9, 2500, false], [8, 9, 2500, true], [2, 20_000, 2, false], [20_000, 2, 2, true]] as const) {
      const result = compare(product(m, k, n, transposed));
      expect(result.ran, `${m}×${k}×${n}`).toBe(false);
      // Declined, out is untouched: the loops' result differs from it (where the product adds anything but zeros).
      expect(result.difference, `${m}×${k}×${n}`).not.toBe(-1);
    }
  });

  it('agrees with the loops on a convolution\'s products: its forward, ∂W, and a linear layer\'s ∂W (A transposed)', () => {
    // conv2d(1→8, 3×3) on 28×28: W [8, 9] · columns [9, 784]; ∂W: g [8, 784] · columnsᵀ [784, 9]; Linear(1568, 10)'s ∂W: xᵀ [1568, 64] · g [64, 10].
    const shapes = [
      { m: 8, k: 9, n: 784, transposed: false },
      { m: 8, k: 784, n: 9, transposed: false },
      { m: 1568, k: 64, n: 10, transposed: true },
    ];
    shapes.forEach(({ m, k, n, transposed }, s) => {
      const a = placed(Array.from({ length: m * k }, (_, i) => Math.sin(i + s)), 5, m * k > 16_384);
      const b = placed(Array.from({ length: k * n }, (_, i) => Math.cos(3 * i + s)), 6, true);
      const out = placed(Array.from({ length: m * n }, (_, i) => i % 3), 7, true);
      try {
        expect(compare({ a: { data: a, offset: 5, transposed }, b: { data: b, offset: 6, transposed: false }, m, k, n, out, outOffset: 7 }), `${m}×${k}×${n}`).toEqual({ ran: true, difference: -1 });
      } finally {
        release(a, b, out);
      }
    });
  });
});
