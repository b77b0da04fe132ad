/*
 * The kernel interface: what an op asks of a backend, in Float64Arrays. Two implementations sit
 * behind it, js.ts (plain loops: the reference and the fallback) and wasm/ (WebAssembly SIMD);
 * index.ts chooses one. The per-channel arithmetic below is shared by both, so they differ only
 * in the passes over the data, and the tests hold those to agree.
 */

export interface Moments {
  readonly mean: Float64Array;
  /** 1 / √(σ² + ε), σ² the biased variance. */
  readonly invStd: Float64Array;
}

export interface BatchNormGradients {
  readonly x: Float64Array;
  readonly gamma: Float64Array;
  readonly beta: Float64Array;
}

/** Where a matrix starts in its buffer and whether to read it transposed. */
export interface MatrixOperand {
  readonly data: Float64Array;
  readonly offset: number;
  readonly transposed: boolean;
}

/** x is read as [batch, channels, spatial] row-major (see ChannelLayout), spatial = 1 for [N, C]. */
export interface Kernels {
  readonly name: KernelsName;
  /**
   * Per-channel mean and inverse standard deviation: from Σx and Σx² in one pass where that is
   * accurate, else from a second pass over x − μ (momentsFromPowerSums).
   */
  channelMoments(x: Float64Array, channels: number, spatial: number, eps: number): Moments;
  /**
   * Σx (or Σx², `squared`) per channel of x read as [rows, channels], starting from 0 and adding
   * the rows in order: the sums over a tensor's leading axes (BN's mean over the batch).
   */
  channelSums(x: Float64Array, channels: number, squared: boolean): Float64Array;
  /**
   * (x − shift)·scale + offset per channel of x read as [rows, channels, spatial]: fused BN's
   * affine store, and x + row, x − row and x·row with the other two parameters 0, 1 or −0 (see
   * src/ops/row-affine.ts).
   */
  channelAffine(x: Float64Array, shift: Float64Array, scale: Float64Array, offset: Float64Array, spatial?: number): Float64Array;
  /** x / divisor per channel of x read as [rows, divisor.length, spatial]: x / row (BN's (x − μ) / σ), JavaScript's `/` to the bit. */
  channelQuotient(x: Float64Array, divisor: Float64Array, spatial?: number): Float64Array;
  /**
   * Σ p·q per channel of p and q read as [rows, channels], starting from 0 and adding the rows in
   * order: the row operand's gradient of a product (Σ g·x over the batch; see row-affine.ts).
   */
  channelProductSums(p: Float64Array, q: Float64Array, channels: number): Float64Array;
  /**
   * target += x·row, or target += row when x is null, in place, per channel of target read as
   * [rows, row.length, spatial]: a gradient added into the gradient so far (BN's mean and
   * variance steps; see gradientToAddInto).
   */
  channelAddInto(target: Float64Array, row: Float64Array, x: Float64Array | null, spatial?: number): void;
  /**
   * y = (x − μ) · γ/σ + β, with μ and σ the batch's (biased variance): the forward of fused
   * batch norm, with the moments it used, for the backward.
   */
  batchNormForward(x: Float64Array, gamma: Float64Array, beta: Float64Array, spatial: number, eps: number): { output: Float64Array; moments: Moments };
  /**
   * Its gradient in closed form, with m values per channel and x̂ = (x − μ)/σ:
   * dβ = Σ g,  dγ = Σ g·x̂,  dx = γ/σ · (g − dβ/m − x̂ · dγ/m).
   * When `moments` came from `batchNormForward`, x must still hold the values that forward read:
   * a backend may read its own copy of them (the autograd engine refuses saved values changed
   * in place before any backward runs).
   */
  batchNormBackward(g: Float64Array, x: Float64Array, gamma: Float64Array, moments: Moments, spatial: number): BatchNormGradients;
  /**
   * Adds op(A) · op(B) to the m×n matrix at `outOffset` of `out` (zeros for a plain product),
   * op(A) being m×k and op(B) k×n; a transposed A is stored k×m, a transposed B n×k. Each element
   * of out gets A[i, p]·B[p, j] added for p in ascending order, as the loops do
   * (matmul-loops.ts), wherever the products are not dot products (B transposed, or n = 1).
   */
  matmulInto(a: MatrixOperand, b: MatrixOperand, m: number, k: number, n: number, out: Float64Array, outOffset: number): void;
  /** `x < 0 ? 0 : x` per element: relu's forward, NaN and −0 kept as they are. */
  relu(x: Float64Array): Float64Array;
  /**
   * `g * (x <= 0 ? 0 : 1)` per element, g and x of one length: relu's gradient, g·0 where x ≤ 0
   * (−0 for a negative g, NaN for g = ±∞ or NaN), g where x is NaN, as PyTorch's threshold_backward.
   */
  reluGradient(g: Float64Array, x: Float64Array): Float64Array;
}

export type KernelsName = 'js' | 'wasm';

/**
 * The smallest mean square whose one-pass variance is kept: 2⁻⁹⁶⁹ (2⁵³ times the smallest normal
 * number), above which squares that fell to subnormals carry errors under 2⁻¹⁰⁶ of it.
 */
const SMALLEST_MEAN_SQUARE = 2 ** -969;

/**
 * Σx (in `sums`) and Σx² (in `squares`) per channel → μ and σ² = Σx²/n − μ², in place, from one
 * pass over x. That difference cancels as μ² nears the mean square Σx²/n; σ² is kept only where
 * it is at least a quarter of the mean square (at most two bits lost to cancellation, so within a
 * few roundings of the two-pass Σ(x − μ)²/n) and the squares were far from underflow. Elsewhere
 * (and where x held NaN or ±∞, or x² overflowed) σ² is left NaN, and the function returns true:
 * the caller then sums Σ(x − μ)² for those channels (varianceFromSquaredDeviations). μ is Σx/n,
 * as in the two-pass form: the sums add the same values in the same order.
 */
export function momentsFromPowerSums(sums: Float64Array, squares: Float64Array, count: number): boolean {
  let twoPass = false;
  for (let c = 0; c < sums.length; c++) {
    const mean = sums[c] / count, meanSquare = squares[c] / count;
    const variance = meanSquare - mean * mean;
    sums[c] = mean;
    const kept = variance >= 0.25 * meanSquare && meanSquare >= SMALLEST_MEAN_SQUARE;
    squares[c] = kept ? variance : NaN;
    twoPass ||= !kept;
  }
  return twoPass;
}

/** Where `variance` is NaN (momentsFromPowerSums): σ² = Σ(x − μ)²/n, from `deviations`, in place. */
export function varianceFromSquaredDeviations(variance: Float64Array, deviations: Float64Array, count: number): Float64Array {
  for (let c = 0; c < variance.length; c++) if (Number.isNaN(variance[c])) variance[c] = deviations[c] / count;
  return variance;
}

/** σ² per channel → 1/√(σ² + ε), in place. */
export function invStdFromVariance(variance: Float64Array, eps: number): Float64Array {
  // A constant channel at eps = 0: 1/σ is taken as 0, as PyTorch's kernel does (see guardZeroVariance).
  for (let c = 0; c < variance.length; c++) {
    const varianceEps = variance[c] + eps;
    variance[c] = varianceEps === 0 ? 0 : 1 / Math.sqrt(varianceEps);
  }
  return variance;
}

/** Throws unless `g` and `x` have one length: a kernel reading them side by side would read past the shorter. */
export function sameLength(kernel: string, g: Float64Array, x: Float64Array): void {
  if (g.length !== x.length) throw new Error(`${kernel}: g and x must have one length, got ${g.length} and ${x.length}`);
}

/** γ/σ per channel, into `scale`: the forward's one multiplier. */
export function forwardScale(gamma: Float64Array, invStd: Float64Array, scale: Float64Array): Float64Array {
  for (let c = 0; c < invStd.length; c++) scale[c] = gamma[c] * invStd[c];
  return scale;
}

/**
 * dx = a·g + b·(x − μ) + d: the three per-channel coefficients (into a, b, d) from the sums
 * dβ = Σ g and Σ g·(x − μ), which becomes dγ (scaled by 1/σ) in place.
 */
export function gradientCoefficients(dBeta: Float64Array, dGamma: Float64Array, gamma: Float64Array, invStd: Float64Array, count: number, a: Float64Array, b: Float64Array, d: Float64Array): void {
  // Each value in a local: stores into one array could alias loads from another, so V8 would
  // load every value again after each store, and one channel's chain of multiplies and divides
  // could not overlap the next's (1.4x the time at 1024 channels).
  for (let c = 0; c < invStd.length; c++) {
    const s = invStd[c], scale = gamma[c] * s, gammaSum = dGamma[c] * s;
    dGamma[c] = gammaSum;
    a[c] = scale;
    b[c] = -scale * s * gammaSum / count;
    d[c] = -scale * dBeta[c] / count;
  }
}
