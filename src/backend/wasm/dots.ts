import { F64, I32, V128, advance, encodeModule, localsAfter, op, until, type Bytes } from './encoding.js';

/*
 * The matrix product out += A · Bᵀ as f64x2 code, A stored m×k and B stored n×k: the products the
 * loops compute as one dot product per element of out (matmul-loops.ts: B transposed, or one
 * output column, whose B is then a single run of k values, the same thing with n = 1). The
 * loops' `dot` keeps four running sums s0..s3 over p in steps of four, adds the last k mod 4
 * products into s0, and returns s0 + s1 + (s2 + s3), which the caller adds to out. Here one
 * f64x2 carries (s0, s1) and another (s2, s3): each lane goes through the same multiply and add
 * as its sum, then s0 takes the rest alone, and the lanes finish in the same association, so
 * every element is the loops' bit for bit. A tile of two rows of A against two rows of B (four
 * elements of out, eight sums in registers) shares each load of A and of B between two dots:
 * a convolution's ∂W per image, 8×784×9, took 11–12 µs against the loops' 39, a linear layer's
 * ∂x 64×10×1568 211 against 1,031 (all in place, one call each, 18:01 UTC).
 */

// Parameters, all i32: byte addresses; m, k, n.
const A = 0, B = 1, OUT = 2, M = 3, K = 4, N = 5;
const PARAMS = 6;

const { locals: LOCALS, declare } = localsAfter(PARAMS);
// ROW_BYTES: k values, a row of A or of B; OUT_ROW: n values. ROW_A, ROW_OUT, ROW_B: the tile's first row of A, of out, of B; AT_A, AT_B: the step's.
const [ROW_BYTES, OUT_ROW, ROW_A, ROW_OUT, ROWS_LEFT, COLUMN, ROW_B, TILE_OUT, AT_A, AT_B, STEPS_LEFT] = declare(I32, 11);
/** Per element of the tile (row of A by row of B): (s0, s1) and (s2, s3); then the steps' values of A (by row: p, p + 1 and p + 2, p + 3) and of B. */
const SUMS = [0, 1].map(() => [0, 1].map(() => ({ low: declare(V128, 1)[0], high: declare(V128, 1)[0] })));
const A_VALUES = [0, 1].map(() => ({ low: declare(V128, 1)[0], high: declare(V128, 1)[0] }));
const B_VALUES = { low: declare(V128, 1)[0], high: declare(V128, 1)[0] };
/** s0 of each element, once the vector steps are done. */
const FIRST = [declare(F64, 2), declare(F64, 2)];

/** The address of row `row` (0 or 1) of the tile's rows from `at`, A's or B's. */
const rowAt = (at: number, row: number) => [...op.get(at), ...(row === 1 ? [...op.get(ROW_BYTES), ...op.i32Add] : [])];

/** out[rows × columns] += the dots of `rows` rows of A from ROW_A with `columns` rows of B from ROW_B. */
function tile(rows: 1 | 2, columns: 1 | 2): number[] {
  const rowIndices = Array.from({ length: rows }, (_, r) => r), columnIndices = Array.from({ length: columns }, (_, c) => c);
  const cells = rowIndices.flatMap((r) => columnIndices.map((c) => ({ r, c, sums: SUMS[r][c], first: FIRST[r][c] })));
  const halves = ['low', 'high'] as const;
  // p, p + 1 into (s0, s1) and p + 2, p + 3 into (s2, s3): `s += a·b` per lane, as the loops' four sums.
  const vectorStep = [
    ...rowIndices.flatMap((r) => halves.flatMap((half, h) => [...rowAt(AT_A, r), ...op.v128Load(16 * h), ...op.set(A_VALUES[r][half])])),
    ...columnIndices.flatMap((c) => [
      ...halves.flatMap((half, h) => [...rowAt(AT_B, c), ...op.v128Load(16 * h), ...op.set(B_VALUES[half])]),
      ...rowIndices.flatMap((r) => halves.flatMap((half) => [
        ...op.get(SUMS[r][c][half]), ...op.get(A_VALUES[r][half]), ...op.get(B_VALUES[half]), ...op.f64x2Mul, ...op.f64x2Add, ...op.set(SUMS[r][c][half]),
      ])),
    ]),
    ...advance(AT_A, op.i32(32)), ...advance(AT_B, op.i32(32)),
    ...op.get(STEPS_LEFT), ...op.i32(1), ...op.i32Sub, ...op.set(STEPS_LEFT),
  ];
  // The last k mod 4 products, into s0 alone.
  const tailStep = [
    ...cells.flatMap(({ r, c, first }) => [...op.get(first), ...rowAt(AT_A, r), ...op.f64Load(), ...rowAt(AT_B, c), ...op.f64Load(), ...op.f64Mul, ...op.f64Add, ...op.set(first)]),
    ...advance(AT_A, op.i32(8)), ...advance(AT_B, op.i32(8)),
    ...op.get(STEPS_LEFT), ...op.i32(1), ...op.i32Sub, ...op.set(STEPS_LEFT),
  ];
  const outAt = (r: number, c: number) => [...op.get(TILE_OUT), ...(r === 1 ? [...op.get(OUT_ROW), ...op.i32Add] : []), ...(c === 1 ? [...op.i32(8), ...op.i32Add] : [])];
  const lane = (local: number, index: number) => [...op.get(local), ...op.f64x2Lane(index)];
  return [
    ...op.get(ROW_OUT), ...op.get(COLUMN), ...op.i32Add, ...op.set(TILE_OUT),
    ...cells.flatMap(({ sums }) => [...op.v128Zero, ...op.set(sums.low), ...op.v128Zero, ...op.set(sums.high)]),
    ...op.get(ROW_A), ...op.set(AT_A), ...op.get(ROW_B), ...op.set(AT_B),
    ...op.get(K), ...op.i32(2), ...op.i32ShrU, ...op.set(STEPS_LEFT),
    ...until([...op.get(STEPS_LEFT), ...op.i32Eqz], vectorStep),
    ...cells.flatMap(({ sums, first }) => [...lane(sums.low, 0), ...op.set(first)]),
    ...op.get(K), ...op.i32(3), ...op.i32And, ...op.set(STEPS_LEFT),
    ...until([...op.get(STEPS_LEFT), ...op.i32Eqz], tailStep),
    // out + (s0 + s1 + (s2 + s3)), as the loops' `out += dot(…)`.
    ...cells.flatMap(({ r, c, sums, first }) => [
      ...outAt(r, c), ...outAt(r, c), ...op.f64Load(),
      ...op.get(first), ...lane(sums.low, 1), ...op.f64Add, ...lane(sums.high, 0), ...lane(sums.high, 1), ...op.f64Add, ...op.f64Add,
      ...op.f64Add, ...op.f64Store(),
    ]),
  ];
}

/** Every element of `rows` rows of out from ROW_OUT: pairs of rows of B, then the odd one. */
function rowsCode(rows: 1 | 2): number[] {
  return [
    ...op.i32(0), ...op.set(COLUMN), ...op.get(B), ...op.set(ROW_B),
    ...until([...op.get(COLUMN), ...op.i32(16), ...op.i32Add, ...op.get(OUT_ROW), ...op.i32GtS], [
      ...tile(rows, 2), ...advance(COLUMN, op.i32(16)), ...advance(ROW_B, [...op.get(ROW_BYTES), ...op.i32(2), ...op.i32Mul]),
    ]),
    ...op.get(COLUMN), ...op.get(OUT_ROW), ...op.i32LtU, ...op.if, ...tile(rows, 1), ...op.end,
  ];
}

/** The whole product, pairs of rows of A and then the odd one: (A, B, out, m, k, n) → (), k ≥ 1. */
function dotsCode(): Bytes {
  const nextRows = [
    ...advance(ROW_A, [...op.get(ROW_BYTES), ...op.i32(2), ...op.i32Mul]), ...advance(ROW_OUT, [...op.get(OUT_ROW), ...op.i32(2), ...op.i32Mul]),
    ...op.get(ROWS_LEFT), ...op.i32(2), ...op.i32Sub, ...op.set(ROWS_LEFT),
  ];
  return [
    ...op.get(K), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES), ...op.get(N), ...op.i32(3), ...op.i32Shl, ...op.set(OUT_ROW),
    ...op.get(A), ...op.set(ROW_A), ...op.get(OUT), ...op.set(ROW_OUT), ...op.get(M), ...op.set(ROWS_LEFT),
    ...until([...op.get(ROWS_LEFT), ...op.i32(2), ...op.i32LtS], [...rowsCode(2), ...nextRows]),
    ...op.get(ROWS_LEFT), ...op.if, ...rowsCode(1), ...op.end,
  ];
}

/** The module of the dot products, exported as `dotProducts`: a module of its own, under the 4 kB a page compiles synchronously. */
export function dotModuleBytes(): Uint8Array {
  return encodeModule([{ name: 'dotProducts', params: PARAMS, locals: LOCALS, body: dotsCode() }]);
}
