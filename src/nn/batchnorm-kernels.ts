/*
 * The fused batch norm's loops. x is read as [batch, channels, spatial] row-major (see
 * ChannelLayout): element (n, c, s) sits at (n·C + c)·S + s, so every loop walks memory in order.
 */

export interface Moments {
  readonly mean: Float64Array;
  /** 1 / √(σ² + ε), σ² the biased variance. */
  readonly invStd: Float64Array;
}

/** Per-channel mean and inverse standard deviation, in two passes (the second over x − μ). */
export function channelMoments(x: Float64Array, batch: number, channels: number, spatial: number, eps: number): Moments {
  const count = batch * spatial;
  const mean = new Float64Array(channels);
  const invStd = new Float64Array(channels);
  for (let n = 0, i = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      let acc = mean[c];
      for (const end = i + spatial; i < end; i++) acc += x[i];
      mean[c] = acc;
    }
  }
  for (let c = 0; c < channels; c++) mean[c] /= count;
  // invStd holds the sums of squared deviations until the last loop.
  for (let n = 0, i = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const mu = mean[c];
      let acc = invStd[c];
      for (const end = i + spatial; i < end; i++) {
        const d = x[i] - mu;
        acc += d * d;
      }
      invStd[c] = acc;
    }
  }
  for (let c = 0; c < channels; c++) invStd[c] = 1 / Math.sqrt(invStd[c] / count + eps);
  return { mean, invStd };
}

/** y = (x − μ) · γ/σ + β: one multiply and one add per element. */
export function normalizeForward(
  x: Float64Array, { mean, invStd }: Moments, gamma: Float64Array, beta: Float64Array,
  batch: number, channels: number, spatial: number,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let n = 0, i = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const mu = mean[c], scale = gamma[c] * invStd[c], shift = beta[c];
      for (const end = i + spatial; i < end; i++) out[i] = (x[i] - mu) * scale + shift;
    }
  }
  return out;
}

export interface BatchNormGradients {
  readonly x: Float64Array;
  readonly gamma: Float64Array;
  readonly beta: Float64Array;
}

/**
 * The closed-form gradient (the paper's equations, simplified), with m values per channel and
 * x̂ = (x − μ)/σ:  dβ = Σ g,  dγ = Σ g·x̂,  dx = γ/σ · (g − dβ/m − x̂ · dγ/m).
 */
export function normalizeBackward(
  g: Float64Array, x: Float64Array, { mean, invStd }: Moments, gamma: Float64Array,
  batch: number, channels: number, spatial: number,
): BatchNormGradients {
  const count = batch * spatial;
  const dBeta = new Float64Array(channels);
  // Σ g·(x − μ) first; scaled by 1/σ into dγ after the loop.
  const dGamma = new Float64Array(channels);
  for (let n = 0, i = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const mu = mean[c];
      let sumG = dBeta[c], sumGD = dGamma[c];
      for (const end = i + spatial; i < end; i++) {
        sumG += g[i];
        sumGD += g[i] * (x[i] - mu);
      }
      dBeta[c] = sumG;
      dGamma[c] = sumGD;
    }
  }
  for (let c = 0; c < channels; c++) dGamma[c] *= invStd[c];
  // dx = a·g + b·(x − μ) + d per channel, the three coefficients worked out once.
  const a = new Float64Array(channels), b = new Float64Array(channels), d = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    a[c] = gamma[c] * invStd[c];
    b[c] = -a[c] * invStd[c] * dGamma[c] / count;
    d[c] = -a[c] * dBeta[c] / count;
  }
  const dx = new Float64Array(x.length);
  for (let n = 0, i = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const mu = mean[c], ac = a[c], bc = b[c], dc = d[c];
      for (const end = i + spatial; i < end; i++) dx[i] = ac * g[i] + bc * (x[i] - mu) + dc;
    }
  }
  return { x: dx, gamma: dGamma, beta: dBeta };
}
