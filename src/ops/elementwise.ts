import { applyOp, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { broadcastShapes } from '../tensor/shape.js';
import { unbroadcast } from './broadcast.js';
import { compileBinary, compileUnary } from './kernels.js';

/*
 * The elementwise ops as a table: name, scalar expression (x from a, y from b), the label a
 * picture shows, and the vector-Jacobian product for each input beside it. A gradient is only
 * computed for an input that needs one.
 *
 * Each gradient receives `toShape`, which sums a broadcast gradient back to its input's shape
 * (`unbroadcast`). Calling it as early as the algebra allows keeps work on the small side: a
 * broadcast operand is constant along the broadcast axes, so sum(-g) = -sum(g) and
 * sum(g·out/b) = sum(g·out)/b there, with one full-size pass instead of three.
 */

type ToShape = (t: Tensor) => Tensor;
type BinaryGradient = (g: Tensor, a: Tensor, b: Tensor, out: Tensor, toShape: ToShape) => Tensor;

function binaryOp(name: string, expression: string, label: string, gradA: BinaryGradient, gradB: BinaryGradient) {
  const kernel = compileBinary(expression);
  const op: OpDefinition = {
    name,
    label,
    inputNames: ['a', 'b'],
    forward([a, b]) {
      const shape = broadcastShapes(name, a.shape, b.shape);
      return { data: kernel(a.data, a.shape, b.data, b.shape, shape), shape };
    },
    backward({ inputs: [a, b], output, needsInputGrad }, g) {
      return [
        needsInputGrad[0] ? gradA(g, a, b, output, (t) => unbroadcast(t, a.shape)) : null,
        needsInputGrad[1] ? gradB(g, a, b, output, (t) => unbroadcast(t, b.shape)) : null,
      ];
    },
  };
  return (a: TensorLike, b: TensorLike): Tensor => applyOp(op, [a, b], undefined);
}

type UnaryGradient = (g: Tensor, x: Tensor, out: Tensor) => Tensor;

function unaryOp(name: string, expression: string, gradX: UnaryGradient, label = name) {
  const kernel = compileUnary(expression);
  const op: OpDefinition = {
    name,
    label,
    inputNames: ['x'],
    forward([x]) {
      return { data: kernel(x.data), shape: x.shape };
    },
    backward({ inputs: [x], output }, g) {
      return [gradX(g, x, output)];
    },
  };
  return (x: TensorLike): Tensor => applyOp(op, [x], undefined);
}

/** A constant (not differentiated) mask computed from x's values: the derivative of a kink. */
function constantMask(expression: string) {
  const kernel = compileUnary(expression);
  return (x: Tensor) => new Tensor(kernel(x.data), x.shape);
}
const signOf = constantMask('x > 0 ? 1 : x < 0 ? -1 : 0');
const stepOf = constantMask('x > 0 ? 1 : 0');

export const add = binaryOp('add', 'x + y', '+', (g, _a, _b, _out, toA) => toA(g), (g, _a, _b, _out, toB) => toB(g));
export const sub = binaryOp('sub', 'x - y', '−', (g, _a, _b, _out, toA) => toA(g), (g, _a, _b, _out, toB) => toB(g).neg());
export const mul = binaryOp('mul', 'x * y', '×',
  (g, _a, b, _out, toA) => toA(g.mul(b)),
  (g, a, _b, _out, toB) => toB(g.mul(a)));
export const div = binaryOp('div', 'x / y', '÷',
  (g, _a, b, _out, toA) => toA(g.div(b)),
  (g, _a, b, out, toB) => toB(g.mul(out)).div(b).neg());
export const pow = binaryOp('pow', 'Math.pow(x, y)', 'pow',
  (g, a, b, _out, toA) => toA(g.mul(b).mul(a.pow(b.sub(1)))),
  // Only computed when the exponent requires grad: log(a) is NaN for a < 0.
  (g, a, _b, out, toB) => toB(g.mul(out).mul(a.log())));

// `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that relu(NaN) is NaN, not a silent 0.
export const relu = unaryOp('relu', 'x < 0 ? 0 : x', (g, x) => g.mul(stepOf(x)));
export const neg = unaryOp('neg', '-x', (g) => g.neg(), '−x');
export const sqrt = unaryOp('sqrt', 'Math.sqrt(x)', (g, _x, out) => g.div(out.mul(2)), '√');
export const exp = unaryOp('exp', 'Math.exp(x)', (g, _x, out) => g.mul(out));
export const log = unaryOp('log', 'Math.log(x)', (g, x) => g.div(x));
// PyTorch's convention: the subgradient of |x| at 0 is 0.
export const abs = unaryOp('abs', 'Math.abs(x)', (g, x) => g.mul(signOf(x)));
export const square = unaryOp('square', 'x * x', (g, x) => g.mul(x).mul(2), 'x²');
export const sigmoid = unaryOp('sigmoid', '1 / (1 + Math.exp(-x))', (g, _x, out) => g.mul(out).mul(out.neg().add(1)), 'σ');
// log(1 + eˣ) without overflow for large x, and without log(1 + tiny) losing digits.
export const softplus = unaryOp('softplus', 'x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))', (g, x) => g.mul(x.sigmoid()));
export const tanh = unaryOp('tanh', 'Math.tanh(x)', (g, _x, out) => g.mul(out.square().neg().add(1)));
