import { isGradEnabled } from '../autograd/mode.js';
import { kernels, worthSimdKernels } from '../backend/index.js';
import { applyOp, opsOnlyWrap, type GradientFormula, type OpDefinition } from '../autograd/op.js';
import { Tensor, zeros, type TensorLike } from '../tensor/tensor.js';
import { broadcastShapes, sameShape, type Shape } from '../tensor/shape.js';
import { unbroadcast, unbroadcastProduct } from './broadcast.js';
import { broadcastPattern, compileBinary, compileRowGradients, compileUnary, type BinaryKernel } from './kernels.js';
import { erf as erfOf } from './erf.js';
import { rowAffine, rowGradients, type RowOp } from './row-affine.js';
import { where } from './select.js';

/*
 * The elementwise ops as a table: name, scalar expression (x from a, y from b), the label a
 * picture shows, and the vector-Jacobian product for each input beside it. A gradient is only
 * computed for an input that needs one.
 *
 * Each gradient receives the shape of the input it is for and sums a broadcast gradient back to
 * it (`unbroadcast`, or `unbroadcastProduct` for a product, which skips the full-size
 * intermediate), as early as the algebra allows: a broadcast operand is constant along the
 * broadcast axes, so sum(-g) = -sum(g) and sum(g·out/b) = sum(g·out)/b there.
 *
 * The formula beside each gradient is how a picture writes it (see GradientFormula in op.ts).
 */

type BinaryGradient = (g: Tensor, a: Tensor, b: Tensor, out: Tensor, shape: Shape) => Tensor;
/** Both gradients at once where a faster path applies (see `bothInOnePass`), else null. */
type BothGradients = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor, Tensor] | null;

/** `row`: a full-size a and a b repeating along it (a row, or a block of runs) go through the kernels (see row-affine.ts). */
function binaryOp(name: string, expression: string, label: string, gradA: BinaryGradient, gradB: BinaryGradient, formula: GradientFormula<undefined>, both?: BothGradients, row?: RowOp) {
  const kernel = compileBinary(expression);
  const op: OpDefinition = {
    name,
    label,
    inputNames: ['a', 'b'],
    formula,
    forward([a, b]) {
      const shape = broadcastShapes(name, a.shape, b.shape);
      const viaRow = row === undefined ? null : rowAffine(row, a.storage, a.shape, b.storage, b.shape, shape);
      return { data: viaRow ?? kernel(a.storage, a.shape, b.storage, b.shape, shape, name), shape };
    },
    backward({ inputs: [a, b], output, needsInputGrad }, g) {
      const fused = both !== undefined && needsInputGrad[0] && needsInputGrad[1] ? both(g, a, b, output) : null;
      if (fused !== null) return fused;
      return [
        needsInputGrad[0] ? gradA(g, a, b, output, a.shape) : null,
        needsInputGrad[1] ? gradB(g, a, b, output, b.shape) : null,
      ];
    },
  };
  return (a: TensorLike, b: TensorLike): Tensor => applyOp(op, [a, b], undefined);
}

type UnaryGradient = (g: Tensor, x: Tensor, out: Tensor) => Tensor;

/** A unary op's formula: the right-hand side of ∂L/∂x, from x, the output and the gradient arriving. */
type UnaryFormula = (names: { x: string; plainX: string; out: string; g: string }) => string;

/**
 * `expression` is compiled into the loop; a function (for what has no one-line form, like erf) is
 * called per element. `onKernels`, the same values to the bit from the kernels in use, takes a
 * large input instead where those are WebAssembly's (worthSimdKernels).
 */
function unaryOp(name: string, expression: string | ((x: number) => number), gradX: UnaryGradient, formula: UnaryFormula, label = name, onKernels?: (x: Float64Array) => Float64Array) {
  const loop = typeof expression === 'string' ? compileUnary(expression) : (data: Float64Array) => data.map(expression);
  const kernel = onKernels === undefined ? loop : (data: Float64Array) => (worthSimdKernels(data.length) ? onKernels(data) : loop(data));
  const op: OpDefinition = {
    name,
    label,
    inputNames: ['x'],
    formula: ({ inputs: [x], plain, output, grad }) => [formula({ x, plainX: plain.inputs[0], out: output, g: grad })],
    forward([x]) {
      return { data: kernel(x.storage), shape: x.shape };
    },
    backward({ inputs: [x], output }, g) {
      return [gradX(g, x, output)];
    },
  };
  return (x: TensorLike): Tensor => applyOp(op, [x], undefined);
}

/** A constant (not differentiated) mask computed from x's values: the derivative of a kink. */
export function constantMask(expression: string) {
  const kernel = compileUnary(expression);
  return (x: Tensor) => new Tensor(kernel(x.storage), x.shape);
}

/**
 * g · mask(x), the mask a constant from x's values (`constantMask`). Recorded (createGraph) it
 * is `g.mul(mask)`, so it can be differentiated again; otherwise one loop, the same products
 * without the mask's buffer, or `onKernels` (as unaryOp's) on a large g of x's shape.
 */
function timesMask(expression: string, onKernels?: (g: Float64Array, x: Float64Array) => Float64Array) {
  const mask = constantMask(expression);
  const product = compileBinary(`y * (${expression})`);
  return (g: Tensor, x: Tensor): Tensor => {
    if (isGradEnabled()) return g.mul(mask(x));
    const viaKernels = onKernels !== undefined && worthSimdKernels(g.storage.length) && sameShape(g.shape, x.shape);
    return new Tensor(viaKernels ? onKernels(g.storage, x.storage) : product(x.storage, x.shape, g.storage, g.shape, g.shape, 'mul'), g.shape);
  };
}
const timesSign = timesMask('x > 0 ? 1 : x < 0 ? -1 : 0');
// PyTorch's threshold_backward, where(x <= 0, 0, g): at NaN the gradient passes, as at x > 0.
// Relu's gradient (Kernels.reluGradient computes the same products).
const timesStep = timesMask('x <= 0 ? 0 : 1', (g, x) => kernels().reluGradient(g, x));
/** 1 where x is 0, else 0: a constant mask for `zeroWhere`. */
export const isZero = constantMask('x === 0 ? 1 : 0');
const baseZeroExponentNonNegative = compileBinary('x === 0 && y >= 0 ? 1 : 0');

/**
 * `x` with 0 where `mask` (a constant 0/1 tensor) is 1: PyTorch's where(mask, 0, x), for a
 * gradient whose formula is 0·∞ at a point where its true value is 0. `where` selects rather
 * than multiplies, so the ∞ or NaN does not leak through, and it can be differentiated again.
 * Nothing is recorded when the mask is all 0, the common case.
 */
export function zeroWhere(x: Tensor, mask: Tensor): Tensor {
  return mask.storage.includes(1) ? where(mask, 0, x) : x;
}

/** 1 when b repeats along the rows of the output and a has its shape, 0 the other way round, -1 otherwise. */
function rowOperand(a: Tensor, b: Tensor, out: Shape): number {
  if (sameShape(a.shape, out) && broadcastPattern(b.shape, out) === 'row') return 1;
  if (sameShape(b.shape, out) && broadcastPattern(a.shape, out) === 'row') return 0;
  return -1;
}

/*
 * mul's and div's two gradients in one pass over g where a full-size operand meets one repeated
 * along the rows (BN's γ and σ): the full operand's g·row (g / row) and the row operand's sum of
 * products, the same values bit for bit as the two ops of the general path, which read g twice
 * (on large tensors two SIMD sweeps instead: rowGradients). Only when nothing is recorded: a
 * recorded (createGraph) backward must be made of ops.
 */
const productRows = rowGradients('mul', compileRowGradients('x * y'));
const quotientRows = rowGradients('div', compileRowGradients('x / y'));

/** a·b: ∂a = g·b and ∂b = Σ g·a, whichever of the two is the row. */
function productBothInOnePass(g: Tensor, a: Tensor, b: Tensor, out: Tensor): [Tensor, Tensor] | null {
  const side = isGradEnabled() ? -1 : rowOperand(a, b, out.shape);
  if (side < 0) return null;
  const [full, row] = side === 1 ? [a, b] : [b, a];
  const { full: fullGrad, sums } = productRows(g.storage, row.storage, full.storage);
  const grads: [Tensor, Tensor] = [new Tensor(fullGrad, full.shape), new Tensor(sums, row.shape)];
  return side === 1 ? grads : [grads[1], grads[0]];
}

/** a / b with b the row: ∂a = g / b and ∂b = −(Σ g·out) / b. */
function quotientBothInOnePass(g: Tensor, a: Tensor, b: Tensor, out: Tensor): [Tensor, Tensor] | null {
  if (isGradEnabled() || rowOperand(a, b, out.shape) !== 1) return null;
  const { full, sums } = quotientRows(g.storage, b.storage, out.storage);
  const divisor = b.storage;
  for (let j = 0; j < sums.length; j++) sums[j] = -(sums[j] / divisor[j]);
  return [new Tensor(full, a.shape), new Tensor(sums, b.shape)];
}

const negated = compileUnary('-x');
const halfQuotient = compileBinary('x / (y * 2)');

/** −t: the neg op, or its kernel alone where an op would only wrap it (opsOnlyWrap). */
function negate(t: Tensor): Tensor {
  return opsOnlyWrap() ? new Tensor(negated(t.storage), t.shape) : t.neg();
}

export const add = binaryOp('add', 'x + y', '+', (g, _a, _b, _out, shape) => unbroadcast(g, shape), (g, _a, _b, _out, shape) => unbroadcast(g, shape),
  ({ grad, sum }) => [`${sum[0]}${grad}`, `${sum[1]}${grad}`], undefined, 'add');
export const sub = binaryOp('sub', 'x - y', '−', (g, _a, _b, _out, shape) => unbroadcast(g, shape), (g, _a, _b, _out, shape) => negate(unbroadcast(g, shape)),
  ({ grad, sum }) => [`${sum[0]}${grad}`, `−${sum[1]}${grad}`], undefined, 'sub');
export const mul = binaryOp('mul', 'x * y', '×',
  (g, _a, b, _out, shape) => unbroadcastProduct(g, b, shape),
  (g, a, _b, _out, shape) => unbroadcastProduct(g, a, shape),
  ({ inputs: [a, b], grad, sum }) => [`${sum[0]}${grad} · ${b}`, `${sum[1]}${grad} · ${a}`],
  productBothInOnePass, 'mul');
export const div = binaryOp('div', 'x / y', '÷',
  (g, _a, b, _out, shape) => unbroadcast(g.div(b), shape),
  (g, _a, b, out, shape) => unbroadcastProduct(g, out, shape).div(b).neg(),
  ({ inputs: [a, b], grad, sum }) => [`${sum[0]}${grad} / ${b}`, `−${sum[1]}${grad} · ${a} / ${b}²`],
  quotientBothInOnePass, 'div');
// As PyTorch (pow_backward_self, pow_backward_exponent): where b = 0 the base's gradient is 0,
// though b·a^(b−1) is 0·∞ at a = 0; where a = 0 and b ≥ 0 the exponent's gradient is 0, though
// aᵇ·log(a) is 0·(−∞) or 1·(−∞) there. The first also makes the second derivative of x¹ at 0 be 0.
export const pow = binaryOp('pow', 'Math.pow(x, y)', 'pow',
  (g, a, b, _out, shape) => unbroadcast(zeroWhere(g.mul(b).mul(a.pow(b.sub(1))), isZero(b)), shape),
  // Only computed when the exponent requires grad: log(a) is NaN for a < 0.
  (g, a, b, out, shape) => {
    const mask = new Tensor(baseZeroExponentNonNegative(a.storage, a.shape, b.storage, b.shape, out.shape, 'pow'), out.shape);
    return unbroadcast(zeroWhere(g.mul(out).mul(a.log()), mask), shape);
  },
  ({ inputs: [a, b], plain, output, grad, sum }) => [`${sum[0]}${grad} · ${b} · ${a}^(${plain.inputs[1]} − 1)`, `${sum[1]}${grad} · ${output} · log ${a}`]);

// `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that relu(NaN) is NaN, not a silent 0.
export const relu = unaryOp('relu', 'x < 0 ? 0 : x', timesStep, ({ g, plainX }) => `${g} · [${plainX} > 0]`, 'relu', (x) => kernels().relu(x));
export const neg = unaryOp('neg', '-x', (g) => g.neg(), ({ g }) => `−${g}`, '−x');
export const sqrt = unaryOp('sqrt', 'Math.sqrt(x)',
  (g, _x, out) => (opsOnlyWrap() ? new Tensor(halfQuotient(g.storage, g.shape, out.storage, out.shape, g.shape, 'sqrt'), g.shape) : g.div(out.mul(2))),
  ({ g, out }) => `${g} / (2·${out})`, '√');
export const exp = unaryOp('exp', 'Math.exp(x)', (g, _x, out) => g.mul(out), ({ g, out }) => `${g} · ${out}`);
export const log = unaryOp('log', 'Math.log(x)', (g, x) => g.div(x), ({ g, x }) => `${g} / ${x}`);
// PyTorch's convention: the subgradient of |x| at 0 is 0.
export const abs = unaryOp('abs', 'Math.abs(x)', timesSign, ({ g, plainX }) => `${g} · sign(${plainX})`);
export const square = unaryOp('square', 'x * x', (g, x) => g.mul(x).mul(2), ({ g, x }) => `2 · ${g} · ${x}`, 'x²');
/** σ(x) and softplus(x) = log(1 + eˣ) as scalar expressions in x, for kernels that fuse them (the BCE loss). */
export const SIGMOID_OF_X = '1 / (1 + Math.exp(-x))';
// log(1 + eˣ) without overflow for large x, and without log(1 + tiny) losing digits.
export const SOFTPLUS_OF_X = 'x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))';
export const sigmoid = unaryOp('sigmoid', SIGMOID_OF_X, (g, _x, out) => g.mul(out).mul(out.neg().add(1)), ({ g, out }) => `${g} · ${out} · (1 − ${out})`, 'σ');
export const softplus = unaryOp('softplus', SOFTPLUS_OF_X, (g, x) => g.mul(x.sigmoid()), ({ g, plainX }) => `${g} · sigmoid(${plainX})`);
export const tanh = unaryOp('tanh', 'Math.tanh(x)', (g, _x, out) => g.mul(out.square().neg().add(1)), ({ g, out }) => `${g} · (1 − ${out}²)`);
// PyTorch's convention: sign is flat everywhere, so its gradient is 0, also at 0. sign(NaN) is NaN.
export const sign = unaryOp('sign', 'x > 0 ? 1 : x < 0 ? -1 : x', (g) => zeros(g.shape), () => '0');
export const sin = unaryOp('sin', 'Math.sin(x)', (g, x) => g.mul(x.cos()), ({ g, plainX }) => `${g} · cos(${plainX})`);
export const cos = unaryOp('cos', 'Math.cos(x)', (g, x) => g.mul(x.sin()).neg(), ({ g, plainX }) => `−${g} · sin(${plainX})`);
// log(1 + x) and eˣ − 1 keep their digits for small x, where 1 + x rounds.
export const log1p = unaryOp('log1p', 'Math.log1p(x)', (g, x) => g.div(x.add(1)), ({ g, plainX }) => `${g} / (1 + ${plainX})`, 'log(1 + x)');
export const expm1 = unaryOp('expm1', 'Math.expm1(x)', (g, _x, out) => g.mul(out.add(1)), ({ g, plainX }) => `${g} · exp(${plainX})`, 'eˣ − 1');
export const reciprocal = unaryOp('reciprocal', '1 / x', (g, _x, out) => g.mul(out.square()).neg(), ({ g, out }) => `−${g} · ${out}²`, '1/x');
export const rsqrt = unaryOp('rsqrt', '1 / Math.sqrt(x)', (g, _x, out) => g.mul(out.pow(3)).mul(-0.5), ({ g, out }) => `−${g} · ${out}³ / 2`, '1/√');
// d erf(x)/dx = 2/√π · e^(−x²), exactly.
export const erf = unaryOp('erf', erfOf, (g, x) => g.mul(x.square().neg().exp()).mul(2 / Math.sqrt(Math.PI)),
  ({ g, x }) => `${g} · 2/√π · exp(−${x}²)`);

/**
 * The larger (smaller) value of a and b, elementwise with broadcasting; a NaN on either side
 * wins. Where a and b tie, each gets half the gradient; the gradient goes to the side that is
 * not beaten (both, next to a NaN), as PyTorch's derivatives.yaml writes it.
 */
function extremeOf(name: string, expression: string, maskA: BinaryKernel, maskB: BinaryKernel, wins: string) {
  const maskOf = (kernel: BinaryKernel, a: Tensor, b: Tensor, out: Tensor) => new Tensor(kernel(a.storage, a.shape, b.storage, b.shape, out.shape, name), out.shape);
  return binaryOp(name, expression, name,
    (g, a, b, out, shape) => unbroadcastProduct(g, maskOf(maskA, a, b, out), shape),
    (g, a, b, out, shape) => unbroadcastProduct(g, maskOf(maskB, a, b, out), shape),
    ({ plain: { inputs: [a, b] }, grad, sum }) => [`${sum[0]}${grad} · [${a} ${wins} ${b}] (½ at ties)`, `${sum[1]}${grad} · [${b} ${wins} ${a}] (½ at ties)`]);
}
const notBelow = compileBinary('x < y ? 0 : x === y ? 0.5 : 1');
const notAbove = compileBinary('x > y ? 0 : x === y ? 0.5 : 1');
const notAboveFlipped = compileBinary('y > x ? 0 : x === y ? 0.5 : 1');
const notBelowFlipped = compileBinary('y < x ? 0 : x === y ? 0.5 : 1');
export const maximum = extremeOf('maximum', 'x > y || x !== x ? x : y', notBelow, notBelowFlipped, '>');
export const minimum = extremeOf('minimum', 'x < y || x !== x ? x : y', notAbove, notAboveFlipped, '<');
