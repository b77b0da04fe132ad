import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { allocate, allocateUninitialized } from '../tensor/allocation.js';
import type { Tensor, TensorLike } from '../tensor/tensor.js';
import { formatShape } from '../tensor/shape.js';
import { checkOptions, describeList, describeValue } from '../validate.js';
import { gradientProduct } from './matmul.js';

/*
 * Convolution through im2col. `unfold` copies every kernel-sized patch of x into a column
 * ([N, C·kH·kW, L], L output positions, PyTorch's F.unfold) and `fold` adds columns back into an
 * image (F.fold); each is the other's gradient, and both are linear, so anything built from them
 * and matmul differentiates as often as asked. conv2d is one node whose forward is an unfold and
 * the existing matmul kernel, and whose gradient is the same pair: ∂x is the transposed
 * convolution fold(Wᵀ·g), ∂W is g·unfold(x)ᵀ summed over the batch.
 */

/** Where the patches of an [H, W] image lie: kernel, stride, padding, dilation per axis, and the output size. */
export interface PatchGeometry {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
  /** The image size the patches are taken from (and `fold` writes back to). */
  readonly input: readonly [number, number];
  /** Output positions per axis: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1. */
  readonly output: readonly [number, number];
}

export interface ConvOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
}

/** A number or `[h, w]`, as PyTorch takes stride, padding, dilation and kernel sizes. */
export function pairOf(fn: string, argument: string, value: unknown, min: number): [number, number] {
  const pair = typeof value === 'number' ? [value, value] : value;
  const valid = Array.isArray(pair) && pair.length === 2 && pair.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= min);
  if (!valid) throw new Error(`${fn}: ${argument} must be an integer >= ${min} or a pair [h, w] of them, got ${describeList(value)}`);
  return pair as [number, number];
}

/** The patch geometry for an image of `input` size, refusing a kernel that does not fit. */
export function patchGeometry(fn: string, input: readonly [number, number], kernel: [number, number], options: ConvOptions, defaultStride: number | [number, number] = 1): PatchGeometry {
  const stride = pairOf(fn, 'stride', options.stride ?? defaultStride, 1);
  const padding = pairOf(fn, 'padding', options.padding ?? 0, 0);
  const dilation = pairOf(fn, 'dilation', options.dilation ?? 1, 1);
  const output = [0, 1].map((axis) => Math.floor((input[axis] + 2 * padding[axis] - dilation[axis] * (kernel[axis] - 1) - 1) / stride[axis]) + 1) as [number, number];
  if (output[0] < 1 || output[1] < 1) {
    const span = kernel.map((k, axis) => dilation[axis] * (k - 1) + 1);
    throw new Error(`${fn}: the kernel spans ${span[0]}×${span[1]} (kernel ${kernel[0]}×${kernel[1]}, dilation ${formatShape(dilation)}) but the padded input is only ${input[0] + 2 * padding[0]}×${input[1] + 2 * padding[1]} (input ${input[0]}×${input[1]}, padding ${formatShape(padding)})`);
  }
  return { kernel, stride, padding, dilation, input, output };
}

/**
 * The output positions [first, end) along one axis whose input coordinate for kernel offset
 * `offset` lies inside the image (the others read the padding): the rows of a patch column
 * that read the image, and along each such row one run with no test per element.
 */
function insideRange(geometry: PatchGeometry, axis: 0 | 1, offset: number): [number, number] {
  const start = offset * geometry.dilation[axis] - geometry.padding[axis], stride = geometry.stride[axis];
  const first = Math.max(0, Math.ceil(-start / stride));
  const end = Math.min(geometry.output[axis], Math.floor((geometry.input[axis] - 1 - start) / stride) + 1);
  return [first, Math.max(first, end)];
}

/**
 * unfold and fold walk the same loop (image, channel, kernel offset, output position); `add`
 * picks the direction: false copies image → columns, true adds columns → image. One body, so
 * the two stay each other's transpose. Along a row the positions inside the image are one run
 * (insideRange), walked without a test or a table per element: the per-element table lookup and
 * test took the unfold of a 64-image batch 1.3 ms (10% of a CNN step). Unfold writes the padding's
 * zeros itself, so its columns need not be zeroed first.
 */
function movePatches(image: Float64Array, columns: Float64Array, planes: number, geometry: PatchGeometry, add: boolean): void {
  const [kH, kW] = geometry.kernel, [H, W] = geometry.input, [oH, oW] = geometry.output, [sH, sW] = geometry.stride;
  const [pH, pW] = geometry.padding, [dH, dW] = geometry.dilation;
  const runs = Array.from({ length: kW }, (_, j) => insideRange(geometry, 1, j));
  const L = oH * oW;
  let column = 0;
  for (let plane = 0; plane < planes; plane++) {
    const planeStart = plane * H * W;
    for (let i = 0; i < kH; i++) {
      const [top, bottom] = insideRange(geometry, 0, i);
      for (let j = 0; j < kW; j++, column += L) {
        const [first, end] = runs[j];
        for (let oh = 0; oh < oH; oh++) {
          const out = column + oh * oW, inside = oh >= top && oh < bottom;
          // Where output position ow = 0 reads (it may lie in the padding; only [first, end) is read).
          const from = planeStart + (oh * sH - pH + i * dH) * W - pW + j * dW;
          if (add) {
            if (inside) for (let ow = first; ow < end; ow++) image[from + ow * sW] += columns[out + ow];
          } else if (!inside) {
            for (let ow = 0; ow < oW; ow++) columns[out + ow] = 0;
          } else {
            for (let ow = 0; ow < first; ow++) columns[out + ow] = 0;
            for (let ow = first; ow < end; ow++) columns[out + ow] = image[from + ow * sW];
            for (let ow = end; ow < oW; ow++) columns[out + ow] = 0;
          }
        }
      }
    }
  }
}

/**
 * The columns [images, channels·kH·kW, L], for `op`. Taken as any op's result (allocateUninitialized:
 * movePatches writes every value, zeros in the padding): large ones then live in the WebAssembly
 * kernels' memory, where the product conv2d runs reads them in place.
 */
export function unfoldKernel(op: string, x: Float64Array, images: number, channels: number, geometry: PatchGeometry): Float64Array {
  const columns = allocateUninitialized(op, [images, channels * geometry.kernel[0] * geometry.kernel[1], geometry.output[0] * geometry.output[1]]);
  movePatches(x, columns, images * channels, geometry, false);
  return columns;
}

function foldKernel(columns: Float64Array, images: number, channels: number, geometry: PatchGeometry): Float64Array {
  const image = allocate('fold', [images, channels, ...geometry.input]);
  movePatches(image, columns, images * channels, geometry, true);
  return image;
}

const kernelArea = (geometry: PatchGeometry) => geometry.kernel[0] * geometry.kernel[1];

const unfoldOp: OpDefinition<PatchGeometry> = {
  name: 'unfold',
  inputNames: ['x'],
  label: ({ kernel }) => `unfold ${kernel[0]}×${kernel[1]}`,
  forward([x], geometry) {
    const [N, C] = x.shape;
    return { data: unfoldKernel('unfold', x.storage, N, C, geometry), shape: [N, C * kernelArea(geometry), geometry.output[0] * geometry.output[1]] };
  },
  backward: ({ attrs }, g) => [foldPatches(g, attrs)],
  formula: ({ grad }) => [`fold(${grad})`],
};

const foldOp: OpDefinition<PatchGeometry> = {
  name: 'fold',
  inputNames: ['columns'],
  label: ({ kernel }) => `fold ${kernel[0]}×${kernel[1]}`,
  forward([columns], geometry) {
    const [N, rows] = columns.shape;
    const C = rows / kernelArea(geometry);
    return { data: foldKernel(columns.storage, N, C, geometry), shape: [N, C, ...geometry.input] };
  },
  backward: ({ attrs }, g) => [unfoldPatches(g, attrs)],
  formula: ({ grad }) => [`unfold(${grad})`],
};

/** unfold and fold with a geometry already checked: for the ops built on them (conv2d, pooling). */
export const unfoldPatches = (x: Tensor, geometry: PatchGeometry): Tensor => applyOp(unfoldOp, [x], geometry);
export const foldPatches = (columns: Tensor, geometry: PatchGeometry): Tensor => applyOp(foldOp, [columns], geometry);

/** The patches of x [N, C, H, W] as columns [N, C·kH·kW, L] (L output positions), like PyTorch's F.unfold. */
export function unfold(x: TensorLike, kernelSize: number | readonly [number, number], options?: ConvOptions): Tensor {
  const input = toTensor('unfold', 'x', x);
  const opts = checkOptions('unfold', options, ['stride', 'padding', 'dilation']);
  if (input.ndim !== 4) throw new Error(`unfold: x must have shape [N, C, H, W], got ${formatShape(input.shape)}`);
  const geometry = patchGeometry('unfold', [input.shape[2], input.shape[3]], pairOf('unfold', 'kernelSize', kernelSize, 1), opts);
  return applyOp(unfoldOp, [input], geometry);
}

/** Adds columns [N, C·kH·kW, L] back into images [N, C, H, W] of `outputSize` [H, W]: F.fold, the inverse direction of unfold. */
export function fold(columns: TensorLike, outputSize: number | readonly [number, number], kernelSize: number | readonly [number, number], options?: ConvOptions): Tensor {
  const input = toTensor('fold', 'columns', columns);
  const opts = checkOptions('fold', options, ['stride', 'padding', 'dilation']);
  const geometry = patchGeometry('fold', pairOf('fold', 'outputSize', outputSize, 1), pairOf('fold', 'kernelSize', kernelSize, 1), opts);
  const area = kernelArea(geometry), positions = geometry.output[0] * geometry.output[1];
  if (input.ndim !== 3 || input.shape[1] % area !== 0 || input.shape[2] !== positions) {
    throw new Error(`fold: columns must have shape [N, C·${area}, ${positions}] for a ${geometry.kernel[0]}×${geometry.kernel[1]} kernel over ${geometry.input[0]}×${geometry.input[1]} (${geometry.output[0]}×${geometry.output[1]} positions), got ${formatShape(input.shape)}`);
  }
  return applyOp(foldOp, [input], geometry);
}

interface ConvAttrs {
  readonly geometry: PatchGeometry;
  readonly groups: number;
}

/** x's patches grouped for a batched matmul: [N, groups, C/groups·kH·kW, L]. */
function groupedColumns(x: Tensor, { geometry, groups }: ConvAttrs): Tensor {
  const [N] = x.shape;
  return unfoldPatches(x, geometry).reshape([N, groups, -1, geometry.output[0] * geometry.output[1]]);
}

/** The weight as one matrix per group: [groups, outC/groups, C/groups·kH·kW]. */
const groupedWeight = (weight: Tensor, groups: number) => weight.reshape([groups, weight.shape[0] / groups, -1]);

const conv2dOp: OpDefinition<ConvAttrs> = {
  name: 'conv2d',
  inputNames: ['x', 'weight', 'bias'],
  label: ({ geometry: { kernel, stride } }) => `conv ${kernel[0]}×${kernel[1]}${stride[0] === 1 && stride[1] === 1 ? '' : ` /${stride[0] === stride[1] ? stride[0] : stride.join('×')}`}`,
  forward([x, weight, bias], attrs) {
    const [N] = x.shape, [outC] = weight.shape, [oH, oW] = attrs.geometry.output;
    const out = groupedWeight(weight, attrs.groups).matmul(groupedColumns(x, attrs)).reshape([N, outC, oH, oW]);
    return bias === undefined ? out : out.add(bias.reshape([outC, 1, 1]));
  },
  backward({ inputs: [x, weight, bias], attrs, needsInputGrad }, g) {
    const { geometry, groups } = attrs;
    const [N] = x.shape;
    const perGroup = g.reshape([N, groups, weight.shape[0] / groups, -1]);
    return [
      // The transposes read in place unless the backward is recorded (gradientProduct): ∂W's is the whole of x's patches.
      needsInputGrad[0] ? foldPatches(gradientProduct(groupedWeight(weight, groups), true, perGroup, false).reshape([N, x.shape[1] * kernelArea(geometry), -1]), geometry) : null,
      needsInputGrad[1] ? gradientProduct(perGroup, false, groupedColumns(x, attrs), true).sum(0).reshape(weight.shape) : null,
      bias !== undefined && needsInputGrad[2] ? g.sum([0, 2, 3]) : null,
    ];
  },
  // ∂x is the transposed convolution; ∂W and ∂b sum over every image and output position.
  formula: ({ inputs: [, weight], plain, grad }) => [
    `fold(${weight}ᵀ @ ${grad})`,
    `Σ ${grad} @ unfold(${plain.inputs[0]})ᵀ`,
    `Σ ${grad}`,
  ].slice(0, plain.inputs.length),
};

export interface Conv2dOptions extends ConvOptions {
  /** Split the channels into this many groups, each convolved with its own filters (outC/groups of them). Default 1. */
  groups?: number;
}

/**
 * 2-D cross-correlation, as PyTorch's F.conv2d: x [N, C, H, W], weight [outC, C/groups, kH, kW],
 * bias [outC] or null; stride, padding (zeros) and dilation a number or [h, w].
 */
export function conv2d(x: TensorLike, weight: TensorLike, bias: TensorLike | null = null, options?: Conv2dOptions): Tensor {
  const input = toTensor('conv2d', 'x', x);
  const filters = toTensor('conv2d', 'weight', weight);
  const opts = checkOptions('conv2d', options, ['stride', 'padding', 'dilation', 'groups']);
  const groups = opts.groups ?? 1;
  if (!(typeof groups === 'number' && Number.isInteger(groups) && groups >= 1)) throw new Error(`conv2d: groups must be a positive integer, got ${describeValue(groups)}`);
  if (input.ndim !== 4) throw new Error(`conv2d: x must have shape [N, C, H, W], got ${formatShape(input.shape)} (add a batch axis of 1 for a single image)`);
  if (filters.ndim !== 4) throw new Error(`conv2d: weight must have shape [outC, C/groups, kH, kW], got ${formatShape(filters.shape)}`);
  const [, channels] = input.shape, [outChannels, perGroup] = filters.shape;
  if (channels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`conv2d: groups (${groups}) must divide both the input channels (${channels}, x of shape ${formatShape(input.shape)}) and the output channels (${outChannels}, weight of shape ${formatShape(filters.shape)})`);
  }
  if (perGroup !== channels / groups) {
    throw new Error(`conv2d: weight of shape ${formatShape(filters.shape)} expects ${perGroup * groups} input channels (${perGroup} per group × ${groups} groups), but x of shape ${formatShape(input.shape)} has ${channels}`);
  }
  const operands: Tensor[] = [input, filters];
  if (bias !== null && bias !== undefined) {
    const b = toTensor('conv2d', 'bias', bias);
    if (b.ndim !== 1 || b.shape[0] !== outChannels) throw new Error(`conv2d: bias must have shape [${outChannels}], one value per output channel, got ${formatShape(b.shape)}`);
    operands.push(b);
  }
  const geometry = patchGeometry('conv2d', [input.shape[2], input.shape[3]], [filters.shape[2], filters.shape[3]], opts);
  return applyOp(conv2dOp, operands, { geometry, groups });
}
