import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { formatShape, sizeOf, type Shape } from '../tensor/shape.js';
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
    const out = new Float64Array(picked.length);
    for (let i = 0; i < out.length; i++) out[i] = x.storage[picked[i]];
    return { data: out, shape: pooledShape(x.shape, geometry) };
  },
  backward: ({ attrs }, g) => [applyOp(maxPoolBackwardOp, [g], attrs)],
  formula: ({ grad }) => [`${grad} at each window's first maximum, 0 elsewhere`],
};

const maxPoolBackwardOp: OpDefinition<PickAttrs> = {
  name: 'maxPool2dBackward',
  inputNames: ['g'],
  label: 'max pool ∂',
  forward([g], { picked, source }) {
    const out = new Float64Array(sizeOf(source));
    for (let i = 0; i < picked.length; i++) out[picked[i]] += g.storage[i];
    return { data: out, shape: source };
  },
  backward: ({ attrs }, g) => [applyOp(maxPoolOp, [g], attrs)],
  formula: ({ grad }) => [`${grad} read at each window's first maximum`],
};

/** The flat index of each window's first maximum (a NaN counts as the maximum, so it propagates). */
function firstMaxima(x: Tensor, geometry: PatchGeometry): Int32Array {
  const [N, C, H, W] = x.shape;
  const [kH, kW] = geometry.kernel, [sH, sW] = geometry.stride, [pH, pW] = geometry.padding, [dH, dW] = geometry.dilation, [oH, oW] = geometry.output;
  const picked = new Int32Array(N * C * oH * oW);
  const data = x.storage;
  let o = 0;
  for (let plane = 0; plane < N * C * H * W; plane += H * W) {
    for (let oh = 0; oh < oH; oh++) {
      for (let ow = 0; ow < oW; ow++, o++) {
        let best = -1, bestValue = -Infinity;
        for (let i = 0; i < kH; i++) {
          const row = oh * sH - pH + i * dH;
          if (row < 0 || row >= H) continue;
          for (let j = 0; j < kW; j++) {
            const col = ow * sW - pW + j * dW;
            if (col < 0 || col >= W) continue;
            const index = plane + row * W + col, value = data[index];
            if (best < 0 || value > bestValue || value !== value) {
              best = index;
              bestValue = value;
              if (value !== value) break;
            }
          }
          if (bestValue !== bestValue) break;
        }
        picked[o] = best;
      }
    }
  }
  return picked;
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
