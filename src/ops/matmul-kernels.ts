/*
 * Matrix products that read either operand as stored or transposed, so a gradient such as
 * g @ bᵀ never copies b into a transposed buffer. Each case orders its loops so the innermost
 * one walks memory in order, and the shapes a small network makes (one output column, one
 * shared axis) get a loop of their own instead of an inner loop that runs once.
 */

/** Where a matrix starts in its buffer and whether to read it transposed. */
export interface MatrixOperand {
  readonly data: Float64Array;
  readonly offset: number;
  readonly transposed: boolean;
}

/**
 * Adds op(A) · op(B) to the m×n matrix at `outOffset` of `out` (zeros for a plain product),
 * op(A) being m×k and op(B) k×n. A transposed A is stored k×m, a transposed B n×k.
 */
export function matmulInto(a: MatrixOperand, b: MatrixOperand, m: number, k: number, n: number, out: Float64Array, outOffset: number): void {
  // A matrix with one row or one column is the same run of values either way round.
  const ta = a.transposed && m !== 1 && k !== 1;
  const tb = b.transposed && k !== 1 && n !== 1;
  const A = a.data, B = b.data, ao = a.offset, bo = b.offset;
  if (!ta && !tb) {
    if (n === 1) {
      // One output column: a dot product per row of A.
      for (let i = 0; i < m; i++) {
        let sum = 0;
        for (let p = 0, ai = ao + i * k; p < k; p++, ai++) sum += A[ai] * B[bo + p];
        out[outOffset + i] += sum;
      }
      return;
    }
    for (let i = 0; i < m; i++) {
      const row = outOffset + i * n;
      for (let p = 0; p < k; p++) {
        const scale = A[ao + i * k + p];
        for (let j = 0, bj = bo + p * n; j < n; j++, bj++) out[row + j] += scale * B[bj];
      }
    }
    return;
  }
  if (ta && !tb) {
    // Row p of the stored A (k×m) and row p of B scale into every row of the result.
    if (n === 1) {
      for (let p = 0; p < k; p++) {
        const scale = B[bo + p];
        for (let i = 0, ai = ao + p * m; i < m; i++, ai++) out[outOffset + i] += A[ai] * scale;
      }
      return;
    }
    for (let p = 0; p < k; p++) {
      for (let i = 0; i < m; i++) {
        const scale = A[ao + p * m + i];
        const row = outOffset + i * n;
        for (let j = 0, bj = bo + p * n; j < n; j++, bj++) out[row + j] += scale * B[bj];
      }
    }
    return;
  }
  if (!ta && tb) {
    // Rows of A against rows of the stored B (n×k): a dot product per element of the result.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0, ai = ao + i * k, bj = bo + j * k; p < k; p++, ai++, bj++) sum += A[ai] * B[bj];
        out[outOffset + i * n + j] += sum;
      }
    }
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
