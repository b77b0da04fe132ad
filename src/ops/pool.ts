import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { allocate, allocateUninitialized } from '../tensor/allocation.js';
import { formatShape, type Shape } from '../tensor/shape.js';
import { checkOptions } from '../validate.js';
import { foldPatches, pairOf, patchGeometry, unfoldKernel, type PatchGeometry } from './conv.js';

/*
 * Pooling over the kernel-sized windows of x [N, C, H, W], with PyTorch's defaults: the stride
 * is the kernel size, padding is implicit (−∞ for max, zeros counted in the average for avg),
 * and it may be at most half the kernel, so every window holds at least one real value.
 */

export interface PoolOptions {
  /** Default: the kernel size. */
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
}

function poolGeometry(fn: string, x: Tensor, kernelSize: unknown, options: PoolOptions | undefined): PatchGeometry {
  const opts = checkOptions(fn, options, ['stride', 'padding']);
  if (x.ndim !== 4) throw new Error(`${fn}: x must have shape [N, C, H, W], got ${formatShape(x.shape)}`);
  const kernel = pairOf(fn, 'kernelSize', kernelSize, 1);
  const geometry = patchGeometry(fn, [x.shape[2], x.shape[3]], kernel, opts, kernel);
  if (geometry.padding.some((p, axis) => 2 * p > kernel[axis])) {
    throw new Error(`${fn}: padding ${formatShape(geometry.padding)} must be at most half the kernel ${kernel[0]}×${kernel[1]}`);
  }
  return geometry;
}

const windowLabel = (name: string, { kernel }: PatchGeometry) => `${name} ${kernel[0]}×${kernel[1]}`;
const pooledShape = (x: Shape, geometry: PatchGeometry) => [x[0], x[1], ...geometry.output];

/*
 * Max pooling picks one input per output (the first maximum of its window, as PyTorch does), so
 * its gradient routes g to those inputs: a scatter. The pick and the scatter are each other's
 * gradient, both linear in their input, so max pooling differentiates twice.
 */
interface PickAttrs {
  /** For each output element, the flat index of the input element it takes. */
  readonly picked: Int32Array;
  readonly geometry: PatchGeometry;
  /** The shape picked from (x), which the scatter writes back to. */
  readonly source: Shape;
}

const maxPoolOp: OpDefinition<PickAttrs> = {
  name: 'maxPool2d',
  inputNames: ['x'],
  label: ({ geometry }) => windowLabel('max pool', geometry),
  forward([x], { picked, geometry }) {
    const shape = pooledShape(x.shape, geometry);
    const out = allocateUninitialized('maxPool2d', shape), values = x.storage;
    for (let i = 0; i < out.length; i++) out[i] = values[picked[i]];
    return { data: out, shape };
  },
  backward: ({ attrs }, g) => [applyOp(maxPoolBackwardOp, [g], attrs)],
  formula: ({ grad }) => [`${grad} at each window's first maximum, 0 elsewhere`],
};

const maxPoolBackwardOp: OpDefinition<PickAttrs> = {
  name: 'maxPool2dBackward',
  inputNames: ['g'],
  label: 'max pool ∂',
  // Added into zeros, where windows overlap. Where they do not, writing each window's values
  // (g at the pick, 0 beside it) took 0.2–0.4 ms over [64, 8, 28, 28], zeroing a reused buffer
  // and adding 0.08–0.10; in fresh memory either takes 1.2–2.3 (a page fault per 4 KiB).
  forward([g], { picked, source }) {
    const out = allocate('maxPool2dBackward', source), gradients = g.storage;
    for (let i = 0; i < picked.length; i++) out[picked[i]] += gradients[i];
    return { data: out, shape: source };
  },
  backward: ({ attrs }, g) => [applyOp(maxPoolOp, [g], attrs)],
  formula: ({ grad }) => [`${grad} read at each window's first maximum`],
};

/*
 * The pick: the flat index of each window's first maximum in row-major window order, as
 * PyTorch's F.max_pool2d takes it. Ties, −0 against +0 among them, keep the earlier element
 * (a strict `>`). A NaN counts as the maximum, so it propagates; the first NaN wins, where
 * PyTorch 1.13's CPU kernel takes a window's last: only a window of several NaNs differs, in
 * which of them its gradient goes to.
 */

/** The first maximum of the rows × cols elements from `start`, `rowStep` and `colStep` apart. */
function firstMaximumIn(data: Float64Array, start: number, rows: number, cols: number, rowStep: number, colStep: number): number {
  let best = start, bestValue = -Infinity;
  for (let i = 0, rowStart = start; i < rows; i++, rowStart += rowStep) {
    for (let j = 0, index = rowStart; j < cols; j++, index += colStep) {
      const value = data[index];
      if (value !== value) return index;
      if (value > bestValue) {
        best = index;
        bestValue = value;
      }
    }
  }
  return best;
}

/** The window offsets k (0 ≤ k < kernel) whose coordinate `first + k·dilation` falls in [0, size). */
function offsetsInside(first: number, kernel: number, dilation: number, size: number): [number, number] {
  const from = first < 0 ? Math.ceil(-first / dilation) : 0;
  return [from, Math.max(from, Math.min(kernel, Math.ceil((size - first) / dilation)))];
}

/** Any geometry: each window cut down to the part inside the image (padding is −∞, never picked). */
export function firstMaximaOfAnyWindows(x: Tensor, geometry: PatchGeometry): Int32Array {
  const [N, C, H, W] = x.shape;
  const [kH, kW] = geometry.kernel, [sH, sW] = geometry.stride, [pH, pW] = geometry.padding, [dH, dW] = geometry.dilation, [oH, oW] = geometry.output;
  const picked = new Int32Array(N * C * oH * oW);
  const data = x.storage;
  let o = 0;
  for (let plane = 0; plane < N * C * H * W; plane += H * W) {
    for (let oh = 0; oh < oH; oh++) {
      const top = oh * sH - pH, [iFrom, iTo] = offsetsInside(top, kH, dH, H);
      for (let ow = 0; ow < oW; ow++, o++) {
        const left = ow * sW - pW, [jFrom, jTo] = offsetsInside(left, kW, dW, W);
        const start = plane + (top + iFrom * dH) * W + left + jFrom * dW;
        picked[o] = firstMaximumIn(data, start, iTo - iFrom, jTo - jFrom, dH * W, dW);
      }
    }
  }
  return picked;
}

/*
 * Windows inside the image (no padding), the common case, pick by arithmetic where the scan
 * above branches: random values mispredict its compares. Over [64, 8, 28, 28], 2×2 windows
 * took 1.6 ms in the scan and take 0.3–0.5 here, in a tournament of the two rows' pairs; 3×3
 * took 1.5 ms and take 0.7, walking each row, then the rows' winners. `>` is false against a
 * NaN, so a window whose sum is NaN (it holds a NaN, or the sum met infinities of both signs)
 * is scanned instead.
 */
function firstMaximaUnpadded(x: Tensor, geometry: PatchGeometry): Int32Array {
  const [N, C, H, W] = x.shape;
  const [kH, kW] = geometry.kernel, [sH, sW] = geometry.stride, [oH, oW] = geometry.output;
  const picked = new Int32Array(N * C * oH * oW);
  const data = x.storage;
  const pairs = kH === 2 && kW === 2;
  let o = 0;
  for (let plane = 0; plane < N * C * H * W; plane += H * W) {
    for (let oh = 0; oh < oH; oh++) {
      for (let ow = 0, start = plane + oh * sH * W; ow < oW; ow++, o++, start += sW) {
        let best = start, sum = 0;
        if (pairs) {
          const a = data[start], b = data[start + 1], c = data[start + W], d = data[start + W + 1];
          sum = a + b + c + d;
          const upper = start + +(b > a), lower = start + W + +(d > c);
          best = upper + +(data[lower] > data[upper]) * (lower - upper);
        } else {
          for (let i = 0, row = start; i < kH; i++, row += W) {
            let rowBest = row;
            sum += data[row];
            for (let index = row + 1; index < row + kW; index++) {
              const value = data[index];
              sum += value;
              rowBest += +(value > data[rowBest]) * (index - rowBest);
            }
            best += +(data[rowBest] > data[best]) * (rowBest - best);
          }
        }
        picked[o] = sum === sum ? best : firstMaximumIn(data, start, kH, kW, W, 1);
      }
    }
  }
  return picked;
}

/** For each output element of max pooling x, the flat index of the input it takes. */
export function firstMaxima(x: Tensor, geometry: PatchGeometry): Int32Array {
  const { padding, dilation } = geometry;
  const unpadded = padding[0] === 0 && padding[1] === 0 && dilation[0] === 1 && dilation[1] === 1;
  return unpadded ? firstMaximaUnpadded(x, geometry) : firstMaximaOfAnyWindows(x, geometry);
}

/** The maximum of each window, as PyTorch's F.max_pool2d; the gradient goes to the first maximum. */
export function maxPool2d(x: TensorLike, kernelSize: number | readonly [number, number], options?: PoolOptions): Tensor {
  const input = toTensor('maxPool2d', 'x', x);
  const geometry = poolGeometry('maxPool2d', input, kernelSize, options);
  return applyOp(maxPoolOp, [input], { picked: firstMaxima(input, geometry), geometry, source: input.shape });
}

const avgPoolOp: OpDefinition<PatchGeometry> = {
  name: 'avgPool2d',
  inputNames: ['x'],
  label: (geometry) => windowLabel('avg pool', geometry),
  forward([x], geometry) {
    const [N, C] = x.shape;
    const area = geometry.kernel[0] * geometry.kernel[1], positions = geometry.output[0] * geometry.output[1];
    const columns = unfoldKernel('avgPool2d', x.storage, N * C, 1, geometry);
    const out = new Float64Array(N * C * positions);
    for (let plane = 0; plane < N * C; plane++) {
      for (let k = 0; k < area; k++) {
        const from = (plane * area + k) * positions, to = plane * positions;
        for (let p = 0; p < positions; p++) out[to + p] += columns[from + p];
      }
    }
    for (let i = 0; i < out.length; i++) out[i] /= area;
    return { data: out, shape: pooledShape(x.shape, geometry) };
  },
  // Each window's g/area, spread over the window and added up where windows overlap: a fold.
  backward({ inputs: [x], attrs: geometry }, g) {
    const [N, C] = x.shape;
    const area = geometry.kernel[0] * geometry.kernel[1], positions = geometry.output[0] * geometry.output[1];
    const spread = g.reshape([N * C, 1, positions]).div(area).broadcastTo([N * C, area, positions]);
    return [foldPatches(spread, geometry).reshape(x.shape)];
  },
  formula: ({ grad }, { kernel }) => [`fold(${grad} / ${kernel[0] * kernel[1]})`],
};

/** The mean of each window, as PyTorch's F.avg_pool2d (padding zeros count in the mean, count_include_pad). */
export function avgPool2d(x: TensorLike, kernelSize: number | readonly [number, number], options?: PoolOptions): Tensor {
  const input = toTensor('avgPool2d', 'x', x);
  return applyOp(avgPoolOp, [input], poolGeometry('avgPool2d', input, kernelSize, options));
}
