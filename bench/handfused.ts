/**
 * The practical limit: BN forward and all three gradients for [N, D] in plain loops over
 * Float64Array, written for this one case (flat loops with a wrapping feature index, which V8
 * runs faster here than nested row/column loops): two passes for the statistics (the second over
 * x − μ, for accuracy), one for the output, one for the gradient sums and one for dx; only the
 * output and dx are allocated at full size. Benchmark only; not part of the library.
 */
export interface HandFusedResult {
  out: Float64Array;
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
}

export function handFusedBatchNorm(
  x: Float64Array, gamma: Float64Array, beta: Float64Array, dout: Float64Array, n: number, d: number, eps: number,
): HandFusedResult {
  const mean = new Float64Array(d);
  const invStd = new Float64Array(d);
  const size = n * d;
  for (let k = 0, j = 0; k < size; k++) {
    mean[j] += x[k];
    if (++j === d) j = 0;
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let k = 0, j = 0; k < size; k++) {
    const centred = x[k] - mean[j];
    invStd[j] += centred * centred;
    if (++j === d) j = 0;
  }
  for (let j = 0; j < d; j++) invStd[j] = 1 / Math.sqrt(invStd[j] / n + eps);

  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) scale[j] = gamma[j] * invStd[j];
  const out = new Float64Array(size);
  for (let k = 0, j = 0; k < size; k++) {
    out[k] = (x[k] - mean[j]) * scale[j] + beta[j];
    if (++j === d) j = 0;
  }

  const dbeta = new Float64Array(d);
  const dgamma = new Float64Array(d);
  for (let k = 0, j = 0; k < size; k++) {
    dbeta[j] += dout[k];
    dgamma[j] += dout[k] * (x[k] - mean[j]);
    if (++j === d) j = 0;
  }
  // dx = γ/σ · (g − dβ/n − x̂·dγ/n), as a·g + b·(x − μ) + c per feature.
  const a = new Float64Array(d);
  const b = new Float64Array(d);
  const c = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    dgamma[j] *= invStd[j];
    a[j] = gamma[j] * invStd[j];
    b[j] = (-a[j] * invStd[j] * dgamma[j]) / n;
    c[j] = (-a[j] * dbeta[j]) / n;
  }
  const dx = new Float64Array(size);
  for (let k = 0, j = 0; k < size; k++) {
    dx[k] = a[j] * dout[k] + b[j] * (x[k] - mean[j]) + c[j];
    if (++j === d) j = 0;
  }
  return { out, dx, dgamma, dbeta };
}
