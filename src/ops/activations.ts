import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { expectFiniteNumber } from '../validate.js';
import { constantMask } from './elementwise.js';
import { erf } from './erf.js';
import { where } from './select.js';

/*
 * Activations with a parameter (leakyRelu's slope, elu's alpha) and gelu. At each kink the
 * gradient follows PyTorch: leakyRelu and elu take the left side's slope at 0.
 */

type Parameter = { readonly p: number };

function parametric(
  name: string,
  label: (p: number) => string,
  value: (x: number, p: number) => number,
  gradient: (g: Tensor, x: Tensor, p: number) => Tensor,
  formula: (g: string, x: string, p: number) => string,
) {
  const op: OpDefinition<Parameter> = {
    name,
    inputNames: ['x'],
    label: ({ p }) => label(p),
    formula: ({ plain, grad }, { p }) => [formula(grad, plain.inputs[0], p)],
    forward: ([x], { p }) => ({ data: x.storage.map((v) => value(v, p)), shape: x.shape }),
    backward: ({ inputs: [x], attrs: { p } }, g) => [gradient(g, x, p)],
  };
  return (x: TensorLike, p: number, argument: string) => applyOp(op, [toTensor(name, 'x', x)], { p: expectFiniteNumber(name, argument, p) });
}

/** 1 where x > 0, else 0: a constant, the side of the kink each element is on. */
const isPositive = constantMask('x > 0 ? 1 : 0');

const leakyReluOp = parametric('leakyRelu', (slope) => `leaky relu ${slope}`, (x, slope) => (x > 0 ? x : x * slope),
  (g, x, slope) => g.mul(where(isPositive(x), 1, slope)),
  (g, x, slope) => `${g} · (1 if ${x} > 0, else ${slope})`);

/** x for x > 0, negativeSlope·x otherwise. */
export function leakyRelu(x: TensorLike, negativeSlope = 0.01): Tensor {
  return leakyReluOp(x, negativeSlope, 'negativeSlope');
}

const eluOp = parametric('elu', (alpha) => (alpha === 1 ? 'elu' : `elu α=${alpha}`), (x, alpha) => (x > 0 ? x : alpha * Math.expm1(x)),
  (g, x, alpha) => g.mul(where(isPositive(x), 1, x.exp().mul(alpha))),
  (g, x, alpha) => `${g} · (1 if ${x} > 0, else ${alpha === 1 ? '' : `${alpha}·`}exp(${x}))`);

/** x for x > 0, alpha·(eˣ − 1) otherwise. */
export function elu(x: TensorLike, alpha = 1): Tensor {
  return eluOp(x, alpha, 'alpha');
}

const gaussianDensity = 1 / Math.sqrt(2 * Math.PI);

const geluOp: OpDefinition = {
  name: 'gelu',
  label: 'GELU',
  inputNames: ['x'],
  formula: ({ plain, grad }) => [`${grad} · (Φ(${plain.inputs[0]}) + ${plain.inputs[0]}·φ(${plain.inputs[0]}))`],
  forward: ([x]) => ({ data: x.storage.map((v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2))), shape: x.shape }),
  // Φ(x) + x·φ(x), with Φ from erf and φ the standard normal density.
  backward: ({ inputs: [x] }, g) => {
    const cdf = x.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
    const density = x.square().mul(-0.5).exp().mul(gaussianDensity);
    return [g.mul(cdf.add(x.mul(density)))];
  },
};

/** x·Φ(x), Φ the standard normal CDF written with erf (PyTorch's default, not the tanh approximation). */
export function gelu(x: TensorLike): Tensor {
  return applyOp(geluOp, [toTensor('gelu', 'x', x)], undefined);
}
