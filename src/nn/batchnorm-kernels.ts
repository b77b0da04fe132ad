/*
 * The fused batch norm's loops. x is read as [batch, channels, spatial] row-major (see
 * ChannelLayout): each pass walks memory in order, moving to the next channel every `spatial`
 * elements (`++k === spatial`). One loop shape serves [N, C] and [N, C, H, W]; for [N, C] it
 * runs as fast as a loop written for 2-D (nested n/c/s loops lose ~1.5× there: the inner loop
 * has one iteration).
 */

export interface Moments {
  readonly mean: Float64Array;
  /** 1 / √(σ² + ε), σ² the biased variance. */
  readonly invStd: Float64Array;
}

/** Per-channel mean and inverse standard deviation, in two passes (the second over x − μ). */
export function channelMoments(x: Float64Array, channels: number, spatial: number, eps: number): Moments {
  const count = x.length / channels;
  const mean = new Float64Array(channels);
  const invStd = new Float64Array(channels);
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    mean[c] += x[i];
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  for (let c = 0; c < channels; c++) mean[c] /= count;
  // invStd holds the sums of squared deviations until the last loop.
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    const d = x[i] - mean[c];
    invStd[c] += d * d;
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  // A constant channel at eps = 0: 1/σ is taken as 0, as PyTorch's kernel does (see guardZeroVariance).
  for (let c = 0; c < channels; c++) {
    const varianceEps = invStd[c] / count + eps;
    invStd[c] = varianceEps === 0 ? 0 : 1 / Math.sqrt(varianceEps);
  }
  return { mean, invStd };
}

/** y = (x − μ) · γ/σ + β: one multiply and two adds per element. */
export function normalizeForward(x: Float64Array, { mean, invStd }: Moments, gamma: Float64Array, beta: Float64Array, spatial: number): Float64Array {
  const channels = mean.length;
  const scale = new Float64Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = gamma[c] * invStd[c];
  const out = new Float64Array(x.length);
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    out[i] = (x[i] - mean[c]) * scale[c] + beta[c];
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
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
export function normalizeBackward(g: Float64Array, x: Float64Array, { mean, invStd }: Moments, gamma: Float64Array, spatial: number): BatchNormGradients {
  const channels = mean.length;
  const count = x.length / channels;
  const dBeta = new Float64Array(channels);
  // Σ g·(x − μ) first; scaled by 1/σ into dγ after the loop.
  const dGamma = new Float64Array(channels);
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    dBeta[c] += g[i];
    dGamma[c] += g[i] * (x[i] - mean[c]);
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  // dx = a·g + b·(x − μ) + d, the three per-channel coefficients worked out once.
  const a = new Float64Array(channels), b = new Float64Array(channels), d = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    dGamma[c] *= invStd[c];
    a[c] = gamma[c] * invStd[c];
    b[c] = -a[c] * invStd[c] * dGamma[c] / count;
    d[c] = -a[c] * dBeta[c] / count;
  }
  const dx = new Float64Array(x.length);
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    dx[i] = a[c] * g[i] + b[c] * (x[i] - mean[c]) + d[c];
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  return { x: dx, gamma: dGamma, beta: dBeta };
}
