import { F64, I32, V128, advance, encodeModule, localsAfter, op, repeat, until, type Bytes } from './encoding.js';

/*
 * The matrix product out += op(A) · B as f64x2 code, for the products the loops compute by
 * scaling rows of B into rows of out (matmul-loops.ts: A as stored, or transposed, and n > 1).
 * The loops add A[i, p]·B[p, j] into out[i, j] for p in ascending order, a multiply and then an
 * add (JavaScript has no fused multiply-add), so this does too: the two lanes are two columns
 * j, j + 1, and each element's running value goes through the same roundings in the same order,
 * bit for bit. What it saves is memory traffic: a tile of two rows by eight columns of out stays
 * in registers for all of p (sixteen sums from two values of A and four vectors of B a step),
 * where the loops load and store every element of out once per p: a convolution's 8×9×784 took
 * 7.7 µs against the loops' 60, its ∂W 8×784×9 6.2 against 86 (all in place, one call each).
 * Columns past the last whole tile go one vector, then one value, at a time; a last odd row alone.
 */

// Parameters, all i32: byte addresses; m, k, n; the bytes between A[i, p] and A[i + 1, p], and between A[i, p] and A[i, p + 1].
const A = 0, B = 1, OUT = 2, M = 3, K = 4, N = 5, A_ROW = 6, A_STEP = 7;
const PARAMS = 8;

const { locals: LOCALS, declare } = localsAfter(PARAMS);
// ROW_A and ROW_OUT: the tile's first row in A and out; TILE_OUT: its first element of out; AT_A, AT_B: step p's value of A and row of B.
const [ROW_BYTES, ROW_A, ROW_OUT, ROWS_LEFT, COLUMN, TILE_OUT, AT_A, AT_B, STEPS_LEFT] = declare(I32, 9);
/** A tile's running values (row by vector), its two rows' values of A at the step, and a vector of B. */
const VECTOR = { sums: [declare(V128, 4), declare(V128, 4)], scales: declare(V128, 2), row: declare(V128, 1)[0] };
const SCALAR = { sums: [declare(F64, 1), declare(F64, 1)], scales: declare(F64, 2), row: declare(F64, 1)[0] };

/** Code for `vectors` f64x2 vectors of columns (4 or 1), or for one column (0). */
function form(vectors: 0 | 1 | 4) {
  return vectors === 0
    ? { locals: SCALAR, load: op.f64Load, store: op.f64Store, mul: op.f64Mul, add: op.f64Add, splat: [], width: 8, count: 1 }
    : { locals: VECTOR, load: op.v128Load, store: op.v128Store, mul: op.f64x2Mul, add: op.f64x2Add, splat: op.f64x2Splat, width: 16, count: vectors };
}

/** The address of the tile's element in `row` (0 or 1) of out, less the column's offset within the tile. */
const outAt = (row: number) => [...op.get(TILE_OUT), ...(row === 1 ? [...op.get(ROW_BYTES), ...op.i32Add] : [])];

/** out[rows × columns at COLUMN] += A[rows, p] · B[p, columns] for every p in turn, the tile's values held in locals. */
function tile(rows: 1 | 2, vectors: 0 | 1 | 4): number[] {
  const { locals, load, store, mul, add, splat, width, count } = form(vectors);
  const rowIndices = Array.from({ length: rows }, (_, r) => r), vectorIndices = Array.from({ length: count }, (_, v) => v);
  const cells = rowIndices.flatMap((r) => vectorIndices.map((v) => ({ r, v })));
  const step = [
    ...rowIndices.flatMap((r) => [...op.get(AT_A), ...(r === 1 ? [...op.get(A_ROW), ...op.i32Add] : []), ...op.f64Load(), ...splat, ...op.set(locals.scales[r])]),
    // out + a·b, as the loops' `out[j] += scale * B[j]`.
    ...vectorIndices.flatMap((v) => [
      ...op.get(AT_B), ...load(v * width), ...op.set(locals.row),
      ...rowIndices.flatMap((r) => [...op.get(locals.sums[r][v]), ...op.get(locals.scales[r]), ...op.get(locals.row), ...mul, ...add, ...op.set(locals.sums[r][v])]),
    ]),
    ...advance(AT_A, op.get(A_STEP)), ...advance(AT_B, op.get(ROW_BYTES)),
  ];
  return [
    ...op.get(ROW_OUT), ...op.get(COLUMN), ...op.i32Add, ...op.set(TILE_OUT),
    ...cells.flatMap(({ r, v }) => [...outAt(r), ...load(v * width), ...op.set(locals.sums[r][v])]),
    ...op.get(ROW_A), ...op.set(AT_A), ...op.get(B), ...op.get(COLUMN), ...op.i32Add, ...op.set(AT_B), ...op.get(K), ...op.set(STEPS_LEFT),
    ...repeat(STEPS_LEFT, step),
    ...cells.flatMap(({ r, v }) => [...outAt(r), ...op.get(locals.sums[r][v]), ...store(v * width)]),
  ];
}

/** `rows` rows of out from ROW_OUT: tiles of eight columns, then of two, then the odd one. */
function rowsCode(rows: 1 | 2): number[] {
  /** Whether fewer than `bytes` of the row are left from COLUMN. */
  const short = (bytes: number) => [...op.get(COLUMN), ...op.i32(bytes), ...op.i32Add, ...op.get(ROW_BYTES), ...op.i32GtS];
  return [
    ...op.i32(0), ...op.set(COLUMN),
    ...until(short(64), [...tile(rows, 4), ...advance(COLUMN, op.i32(64))]),
    ...until(short(16), [...tile(rows, 1), ...advance(COLUMN, op.i32(16))]),
    ...op.get(COLUMN), ...op.get(ROW_BYTES), ...op.i32LtU, ...op.if, ...tile(rows, 0), ...op.end,
  ];
}

/** The whole product, pairs of rows and then the odd one: (A, B, out, m, k, n, aRowBytes, aStepBytes) → (), k ≥ 1. */
function productCode(): Bytes {
  const nextRows = (count: number) => [
    ...advance(ROW_A, [...op.get(A_ROW), ...op.i32(count), ...op.i32Mul]), ...advance(ROW_OUT, [...op.get(ROW_BYTES), ...op.i32(count), ...op.i32Mul]),
    ...op.get(ROWS_LEFT), ...op.i32(count), ...op.i32Sub, ...op.set(ROWS_LEFT),
  ];
  return [
    ...op.get(N), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...op.get(A), ...op.set(ROW_A), ...op.get(OUT), ...op.set(ROW_OUT), ...op.get(M), ...op.set(ROWS_LEFT),
    ...until([...op.get(ROWS_LEFT), ...op.i32(2), ...op.i32LtS], [...rowsCode(2), ...nextRows(2)]),
    ...op.get(ROWS_LEFT), ...op.if, ...rowsCode(1), ...op.end,
  ];
}

/** The module of the product, exported as `matrixProduct`: a module of its own, each staying under the 4 kB a page compiles synchronously. */
export function productModuleBytes(): Uint8Array {
  return encodeModule([{ name: 'matrixProduct', params: PARAMS, locals: LOCALS, body: productCode() }]);
}
