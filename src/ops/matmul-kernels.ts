import { kernels } from '../backend/index.js';
import type { MatrixOperand } from '../backend/kernels.js';

/**
 * Adds op(A) · op(B) to the m×n matrix at `outOffset` of `out` (zeros for a plain product),
 * op(A) being m×k and op(B) k×n; a transposed A is stored k×m, a transposed B n×k. On the kernels
 * in use: the loops of backend/matmul-loops.ts, or WebAssembly SIMD for the same sums (Kernels.matmulInto).
 */
export function matmulInto(a: MatrixOperand, b: MatrixOperand, m: number, k: number, n: number, out: Float64Array, outOffset: number): void {
  kernels().matmulInto(a, b, m, k, n, out, outOffset);
}
