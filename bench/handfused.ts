/**
 * The practical limit: BN forward and all three gradients in hand-fused loops over Float64Array,
 * two passes forward (mean, then variance of the deviations) and two backward. Benchmark only.
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
  const xhat = new Float64Array(n * d);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = x[i * d + j] - mean[j];
      invStd[j] += c * c;
    }
  }
  for (let j = 0; j < d; j++) invStd[j] = 1 / Math.sqrt(invStd[j] / n + eps);
  const dgamma = new Float64Array(d);
  const dbeta = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const k = i * d + j;
      const h = (x[k] - mean[j]) * invStd[j];
      xhat[k] = h;
      out[k] = gamma[j] * h + beta[j];
      dgamma[j] += dout[k] * h;
      dbeta[j] += dout[k];
    }
  }
  const dx = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const k = i * d + j;
      // dx = gamma * invStd / n * (n * dout - sum(dout) - xhat * sum(dout * xhat))
      dx[k] = (gamma[j] * invStd[j] / n) * (n * dout[k] - dbeta[j] - xhat[k] * dgamma[j]);
    }
  }
  return { out, dx, dgamma, dbeta };
}
