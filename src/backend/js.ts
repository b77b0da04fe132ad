import { uninitializedValues } from '../tensor/allocation.js';
import { matmulLoops } from './matmul-loops.js';
import { forwardScale, gradientCoefficients, invStdFromVariance, momentsFromPowerSums, sameLength, varianceFromSquaredDeviations, type Kernels, type Moments } from './kernels.js';

/*
 * The kernels as plain loops over Float64Array: the reference the WebAssembly kernels are tested
 * against, and the fallback where WebAssembly SIMD is missing. x is read as [batch, channels,
 * spatial] row-major: each pass walks memory in order, moving to the next channel every
 * `spatial` elements (`++k === spatial`). One loop shape serves [N, C] and [N, C, H, W]; for
 * [N, C] it runs as fast as a loop written for 2-D (nested n/c/s loops lose ~1.5× there: the
 * inner loop has one iteration).
 */

/** Σx per channel of [rows, sums.length], added into `sums`. */
function channelSumsInto(x: Float64Array, sums: Float64Array): Float64Array {
  const channels = sums.length;
  for (let i = 0, c = 0; i < x.length; i++) {
    sums[c] += x[i];
    if (++c === channels) c = 0;
  }
  return sums;
}

/** Σ(x − centre)² per channel, added into `squares`. */
function squaredDeviationsInto(x: Float64Array, centre: Float64Array, spatial: number, squares: Float64Array): Float64Array {
  const channels = centre.length;
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    const d = x[i] - centre[c];
    squares[c] += d * d;
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  return squares;
}

/** Σ p·q per channel of [rows, channels], added into `sums`. */
function productSumsInto(p: Float64Array, q: Float64Array, sums: Float64Array): Float64Array {
  const channels = sums.length;
  for (let i = 0, c = 0; i < p.length; i++) {
    sums[c] += p[i] * q[i];
    if (++c === channels) c = 0;
  }
  return sums;
}

/** target += x·row (x null: target += row) per channel of [rows, channels, spatial], in place. */
function addInto(target: Float64Array, row: Float64Array, x: Float64Array | null, spatial = 1): void {
  const channels = row.length;
  for (let i = 0, c = 0, k = 0; i < target.length; i++) {
    target[i] += x === null ? row[c] : x[i] * row[c];
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
}

/** (x − shift)·scale + offset per channel. */
function affine(x: Float64Array, shift: Float64Array, scale: Float64Array, offset: Float64Array, spatial: number): Float64Array {
  const channels = shift.length;
  const out = uninitializedValues(x.length);
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    out[i] = (x[i] - shift[c]) * scale[c] + offset[c];
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
  return out;
}

/** Σx and Σx² per channel, added into `sums` and `squares`, in one pass. */
function powerSumsInto(x: Float64Array, channels: number, spatial: number, sums: Float64Array, squares: Float64Array): void {
  for (let i = 0, c = 0, k = 0; i < x.length; i++) {
    const v = x[i];
    sums[c] += v;
    squares[c] += v * v;
    if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
  }
}

function channelMoments(x: Float64Array, channels: number, spatial: number, eps: number): Moments {
  const count = x.length / channels;
  const mean = new Float64Array(channels), variance = new Float64Array(channels);
  powerSumsInto(x, channels, spatial, mean, variance);
  if (momentsFromPowerSums(mean, variance, count)) {
    varianceFromSquaredDeviations(variance, squaredDeviationsInto(x, mean, spatial, new Float64Array(channels)), count);
  }
  return { mean, invStd: invStdFromVariance(variance, eps) };
}

export const jsKernels: Kernels = {
  name: 'js',
  channelMoments,

  channelSums(x, channels, squared) {
    const sums = uninitializedValues(channels).fill(0);
    // Σx² as Σ(x − 0)², as the WebAssembly kernels take it: x − 0 is x, −0 included.
    return squared ? squaredDeviationsInto(x, new Float64Array(channels), 1, sums) : channelSumsInto(x, sums);
  },

  channelAffine: (x, shift, scale, offset, spatial = 1) => affine(x, shift, scale, offset, spatial),

  channelProductSums: (p, q, channels) => productSumsInto(p, q, uninitializedValues(channels).fill(0)),

  channelAddInto: addInto,

  channelQuotient(x, divisor, spatial = 1) {
    const channels = divisor.length;
    const out = uninitializedValues(x.length);
    for (let i = 0, c = 0, k = 0; i < x.length; i++) {
      out[i] = x[i] / divisor[c];
      if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
    }
    return out;
  },

  batchNormForward(x, gamma, beta, spatial, eps) {
    const channels = gamma.length;
    const moments = channelMoments(x, channels, spatial, eps);
    const { mean, invStd } = moments;
    const scale = forwardScale(gamma, invStd, new Float64Array(channels));
    return { output: affine(x, mean, scale, beta, spatial), moments };
  },

  batchNormBackward(g, x, gamma, { mean, invStd }, spatial) {
    const channels = gamma.length;
    const dBeta = new Float64Array(channels);
    const dGamma = new Float64Array(channels);
    for (let i = 0, c = 0, k = 0; i < x.length; i++) {
      dBeta[c] += g[i];
      dGamma[c] += g[i] * (x[i] - mean[c]);
      if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
    }
    const a = new Float64Array(channels), b = new Float64Array(channels), d = new Float64Array(channels);
    gradientCoefficients(dBeta, dGamma, gamma, invStd, x.length / channels, a, b, d);
    const dx = uninitializedValues(x.length);
    for (let i = 0, c = 0, k = 0; i < x.length; i++) {
      dx[i] = a[c] * g[i] + b[c] * (x[i] - mean[c]) + d[c];
      if (++k === spatial) { k = 0; if (++c === channels) c = 0; }
    }
    return { x: dx, gamma: dGamma, beta: dBeta };
  },

  matmulInto: matmulLoops,

  relu(x) {
    const out = uninitializedValues(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      out[i] = v < 0 ? 0 : v;
    }
    return out;
  },

  reluGradient(g, x) {
    sameLength('reluGradient', g, x);
    const out = uninitializedValues(x.length);
    for (let i = 0; i < x.length; i++) out[i] = g[i] * (x[i] <= 0 ? 0 : 1);
    return out;
  },
};
