import { applyOp, opsOnlyWrap, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, normalizeAxes, normalizeAxis, reducedShape, sizeOf, type Shape } from '../tensor/shape.js';
import { broadcastTo } from './broadcast.js';
import { checkOptions, expectBoolean } from '../validate.js';
import { compileBinary, compileReduce, type BinaryKernel, type ReduceKernel } from './kernels.js';
import { addRowInto, repeatedRun } from './row-affine.js';
import { gradientToAddInto } from '../autograd/gradient-buffers.js';
import { sumKernel, sumOfSquaresKernel } from './sums.js';

/*
 * Reductions over `axis` (a number, a list, negative allowed; all axes when omitted), with
 * `keepdims` as in NumPy. Each gradient spreads g back over the reduced axes, which the
 * formulas leave implicit: ∂L/∂μ / N is one value copied to every element it averaged.
 */

export interface ReduceOptions {
  keepdims?: boolean;
}

export interface ReduceAttrs {
  readonly axes: readonly number[];
  readonly keepdims: boolean;
  /** How many input elements feed each output element. */
  readonly count: number;
}

// Written so a NaN, once met, stays: `x > NaN` is false and `x !== x` only holds for NaN.
const maxKernel = compileReduce('-Infinity', 'x > acc || x !== x ? (acc !== acc ? acc : x) : acc');
const minKernel = compileReduce('Infinity', 'x < acc || x !== x ? (acc !== acc ? acc : x) : acc');
const equalKernel = compileBinary('x === y ? 1 : 0');
const divideKernel = compileBinary('x / y');
const multiplyKernel = compileBinary('x * y');

/** t ÷ c or t × c for a plain number c: the op, or its kernel alone where an op would only wrap it (opsOnlyWrap). */
function byNumber(t: Tensor, c: number, kernel: BinaryKernel, op: (t: Tensor, c: number) => Tensor): Tensor {
  return opsOnlyWrap() ? new Tensor(kernel(t.storage, t.shape, Float64Array.of(c), [], t.shape, 'backward'), t.shape) : op(t, c);
}

/** g with the reduced axes restored as 1s, so it broadcasts against the input. */
export function withKeptDims(g: Tensor, input: Shape, attrs: ReduceAttrs): Tensor {
  return attrs.keepdims ? g : g.reshape(reducedShape(input, attrs.axes, true));
}

/** g broadcast back to the input's shape. */
function spread(g: Tensor, input: Shape, attrs: ReduceAttrs): Tensor {
  return broadcastTo(withKeptDims(g, input, attrs), input);
}

/**
 * The checked input and attributes of a reduction call: `axis` a number, a list or undefined
 * (every axis, giving a 0-d result), and an options object with `keepdims` and `extra` keys.
 */
export function reductionCall<Options extends ReduceOptions>(
  name: string, x: TensorLike, axis: number | readonly number[] | undefined, options: Options | undefined, extra: readonly (keyof Options & string)[] = [],
): { input: Tensor; attrs: ReduceAttrs; options: Options } {
  const checked = checkOptions(name, options, ['keepdims', ...extra] as (keyof Options & string)[]);
  const keepdims = expectBoolean(name, 'keepdims', checked.keepdims ?? false);
  const input = toTensor(name, 'x', x);
  const axes = normalizeAxes(name, axis, input.ndim);
  let count = 1;
  for (const a of axes) count *= input.shape[a];
  return { input, attrs: { axes, keepdims, count }, options: checked };
}

function reduction(name: string, prepare: (x: Tensor, attrs: ReduceAttrs) => Float64Array, op: Omit<OpDefinition<ReduceAttrs>, 'name' | 'forward'>) {
  const definition: OpDefinition<ReduceAttrs> = {
    name,
    inputNames: ['x'],
    ...op,
    forward([x], attrs) {
      return { data: prepare(x, attrs), shape: reducedShape(x.shape, attrs.axes, attrs.keepdims) };
    },
  };
  return (x: TensorLike, axis?: number | readonly number[], options?: ReduceOptions): Tensor => {
    const { input, attrs } = reductionCall(name, x, axis, options);
    return applyOp(definition, [input], attrs);
  };
}

export const sum = reduction('sum', (x, { axes }) => sumKernel(x.storage, x.shape, axes), {
  formula: ({ grad }) => [grad],
  backward: ({ inputs: [x], attrs }, g) => [spread(g, x.shape, attrs)],
});

/** A summing kernel's result divided by how many input elements fed each output element. */
function averaged(kernel: ReduceKernel) {
  return (x: Tensor, { axes, count }: ReduceAttrs): Float64Array => {
    const data = kernel(x.storage, x.shape, axes);
    for (let i = 0; i < data.length; i++) data[i] /= count;
    return data;
  };
}

export const mean = reduction('mean', averaged(sumKernel), {
  formula: ({ grad, size }, { count }) => [`${grad} / ${size(count)}`],
  // Divide before spreading: the small tensor, not the full-size one.
  backward: (ctx, g) => {
    const { inputs: [x], attrs } = ctx;
    const share = withKeptDims(byNumber(g, attrs.count, divideKernel, (t, c) => t.div(c)), x.shape, attrs);
    const run = repeatedRun(share.shape, x.shape);
    const soFar = run === null ? null : gradientToAddInto(ctx, 0);
    if (soFar === null || run === null) return [broadcastTo(share, x.shape)];
    addRowInto(soFar.storage, share.storage, undefined, run);
    return [soFar];
  },
});

/**
 * mean(x²) as one node: BN's variance step, applied to values already centred (a two-pass
 * variance, which stays accurate when the mean is large compared with the spread).
 */
export const meanSquare = reduction('meanSquare', averaged(sumOfSquaresKernel), {
  label: 'mean(x²)',
  formula: ({ inputs: [x], grad, size }, { count }) => [`2 · ${grad} · ${x} / ${size(count)}`],
  // x · (2g/N) with g broadcast by the mul itself: one full-size pass, no materialised spread.
  backward: (ctx, g) => {
    const { inputs: [x], attrs } = ctx;
    const slope = withKeptDims(byNumber(g, 2 / attrs.count, multiplyKernel, (t, c) => t.mul(c)), x.shape, attrs);
    const run = repeatedRun(slope.shape, x.shape);
    const soFar = run === null ? null : gradientToAddInto(ctx, 0);
    if (soFar === null || run === null) return [x.mul(slope)];
    addRowInto(soFar.storage, slope.storage, x.storage, run);
    return [soFar];
  },
});

/**
 * max and min. Like PyTorch's amax and amin, the gradient is shared evenly between tied
 * extremes (the order of the values does not decide who gets it).
 */
function extremum(name: string, kernel: ReduceKernel) {
  return reduction(name, (x, { axes, count }) => {
    if (count === 0) throw new Error(`${name}: cannot take the ${name} over an empty axis (x has shape ${formatShape(x.shape)}, axes ${formatShape(axes)})`);
    return kernel(x.storage, x.shape, axes);
  }, {
    // Split evenly between tied extremes: the Iverson bracket [x = max] is 1 at each of them.
    formula: ({ plain, grad }) => [`${grad} · [${plain.inputs[0]} = ${plain.output}] / ties`],
    backward: ({ inputs: [x], output, attrs }, g) => {
      const keptShape = reducedShape(x.shape, attrs.axes, true);
      const isExtreme = equalKernel(x.storage, x.shape, output.storage, keptShape, x.shape, name);
      const ties = sumKernel(isExtreme, x.shape, attrs.axes);
      // 1 / (number of ties) at each extreme, 0 elsewhere: a constant, not differentiated.
      const share = new Tensor(divideKernel(isExtreme, x.shape, ties, keptShape, x.shape, name), x.shape);
      return [spread(g, x.shape, attrs).mul(share)];
    },
  });
}

export const max = extremum('max', maxKernel);
export const min = extremum('min', minKernel);

/**
 * The position of the largest (smallest) value along `axis`, or in the flattened tensor when
 * no axis is given, as a tensor of integer values. Ties go to the first position, as in
 * PyTorch, and a NaN counts as the extreme. Positions are not differentiable, so the result
 * never requires grad.
 */
function argExtremum(name: string, better: (value: number, best: number) => boolean) {
  return (x: TensorLike, axis?: number, options?: ReduceOptions): Tensor => {
    const { keepdims = false } = checkOptions(name, options, ['keepdims']);
    expectBoolean(name, 'keepdims', keepdims);
    const input = toTensor(name, 'x', x);
    const flat = axis === undefined;
    // A 0-d tensor has one position, 0, along axis 0 or -1, as in PyTorch.
    const at = flat ? 0 : normalizeAxis(name, 'axis', axis, Math.max(1, input.ndim));
    const shape = flat || input.ndim === 0 ? [input.size] : input.shape;
    const size = shape[at];
    if (size === 0) throw new Error(`${name}: cannot take the ${name} over an empty axis (x has shape ${formatShape(input.shape)})`);
    const outer = sizeOf(shape.slice(0, at));
    const inner = sizeOf(shape.slice(at + 1));
    const out = new Float64Array(outer * inner);
    const data = input.storage;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * size * inner + j;
        let best = 0;
        let bestValue = data[base];
        for (let k = 1; k < size && bestValue === bestValue; k++) {
          const value = data[base + k * inner];
          if (better(value, bestValue) || value !== value) {
            best = k;
            bestValue = value;
          }
        }
        out[o * inner + j] = best;
      }
    }
    const outShape = flat ? (keepdims ? input.shape.map(() => 1) : []) : reducedShape(input.shape, [at], keepdims);
    return new Tensor(out, outShape);
  };
}

export const argmax = argExtremum('argmax', (value, best) => value > best);
export const argmin = argExtremum('argmin', (value, best) => value < best);
