import type { MatrixOperand } from './kernels.js';

/*
 * Matrix products as plain loops (the JavaScript kernels' matmulInto, and the reference the
 * WebAssembly one is tested against), reading either operand as stored or transposed, so a
 * gradient such as g @ bᵀ never copies b into a transposed buffer. Each case orders its loops so
 * the innermost one walks memory in order, and the shapes a small network makes (one output
 * column, one shared axis) get a loop of their own instead of an inner loop that runs once.
 */

/** out[o, o + n) += scale · B[b, b + n), four at a time: V8 does not unroll, and the loop overhead is a third of the work here. */
function addScaled(out: Float64Array, o: number, B: Float64Array, b: number, n: number, scale: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    out[o + j] += scale * B[b + j];
    out[o + j + 1] += scale * B[b + j + 1];
    out[o + j + 2] += scale * B[b + j + 2];
    out[o + j + 3] += scale * B[b + j + 3];
  }
  for (; j < n; j++) out[o + j] += scale * B[b + j];
}

/** Σ A[a + p] · B[b + p] over p < k, in four running sums: one sum waits on each add before the next. */
function dot(A: Float64Array, a: number, B: Float64Array, b: number, k: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let p = 0;
  for (; p + 3 < k; p += 4) {
    s0 += A[a + p] * B[b + p];
    s1 += A[a + p + 1] * B[b + p + 1];
    s2 += A[a + p + 2] * B[b + p + 2];
    s3 += A[a + p + 3] * B[b + p + 3];
  }
  for (; p < k; p++) s0 += A[a + p] * B[b + p];
  return s0 + s1 + (s2 + s3);
}

/** Kernels.matmulInto: op(A) · op(B) added to the m×n matrix at `outOffset` of `out`. */
export function matmulLoops(a: MatrixOperand, b: MatrixOperand, m: number, k: number, n: number, out: Float64Array, outOffset: number): void {
  // A matrix with one row or one column is the same run of values either way round.
  const ta = a.transposed && m !== 1 && k !== 1;
  const tb = b.transposed && k !== 1 && n !== 1;
  const A = a.data, B = b.data, ao = a.offset, bo = b.offset;
  if (!ta && !tb) {
    // One output column: a dot product per row of A; otherwise rows of B scaled into each row of the result.
    if (n === 1) for (let i = 0; i < m; i++) out[outOffset + i] += dot(A, ao + i * k, B, bo, k);
    else for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) addScaled(out, outOffset + i * n, B, bo + p * n, n, A[ao + i * k + p]);
    return;
  }
  if (ta && !tb) {
    // Row p of the stored A (k×m) and row p of B scale into the result: into its one column
    // when n is 1, else into each of its rows.
    if (n === 1) for (let p = 0; p < k; p++) addScaled(out, outOffset, A, ao + p * m, m, B[bo + p]);
    else for (let p = 0; p < k; p++) for (let i = 0; i < m; i++) addScaled(out, outOffset + i * n, B, bo + p * n, n, A[ao + p * m + i]);
    return;
  }
  if (!ta && tb) {
    // Rows of A against rows of the stored B (n×k): a dot product per element of the result.
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[outOffset + i * n + j] += dot(A, ao + i * k, B, bo + j * k, k);
    return;
  }
  // Both transposed: rare (the gradient of a product of two transposes); strided reads.
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += A[ao + p * m + i] * B[bo + j * k + p];
      out[outOffset + i * n + j] += sum;
    }
  }
}
