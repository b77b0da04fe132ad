import { defineOp, ones, randn, rand, Tensor, withScope, zeros } from '../index.js';

/*
 * The models the CLI draws and checks, built from core ops.
 *
 * TEMPORARY ADAPTER: BN is being built on another branch as `src/nn` (`batchNorm`,
 * `BatchNorm1d`, `Linear`, `ReLU`, `Sequential`). Until it lands, this file follows that
 * contract with core ops: the same step labels, tensor names, scopes and parameter flags.
 * When `src/nn` is merged, `batchNorm` and the MLP here are to be replaced by imports from
 * '../nn/index.js'; nothing else in src/cli or src/graph knows how BN is built.
 */

export interface BatchNormOptions {
  eps?: number;
  /** Split the variance into its primitives (`square`, then a `mean` labelled `variance`). */
  primitives?: boolean;
}

/** The steps of BN in order, as op labels. */
export const BN_STEPS = ['mean', 'subtract', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift'] as const;

/** mean((x − μ)²) over the batch as one node: the steps view shows the variance as one step. */
const batchVariance = defineOp({
  name: 'variance',
  inputNames: ['x − μ'],
  forward: (centred) => centred.square().mean(0, { keepdims: true }),
  // d/dd mean(d²) = 2d / N, broadcast from the 1×D gradient over the N rows.
  backward: ({ inputs: [centred] }, g) => [g.mul(centred).mul(2 / centred.shape[0])],
});

function named(t: Tensor, name: string, step: string): Tensor {
  t.withLabel(step).name = name;
  return t;
}

/** Batch Normalization (training mode) of an N×D batch as an explicit graph of labelled steps. */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, options: BatchNormOptions = {}): Tensor {
  const eps = options.eps ?? 1e-5;
  const mu = named(x.mean(0, { keepdims: true }), 'μ', 'mean');
  const centred = named(x.sub(mu), 'x − μ', 'subtract');
  const variance = options.primitives
    ? named(named(centred.square(), '(x − μ)²', 'square').mean(0, { keepdims: true }), 'σ²', 'variance')
    : named(batchVariance(centred), 'σ²', 'variance');
  const shifted = named(variance.add(new Tensor(Float64Array.of(eps), [], { name: 'ε' })), 'σ² + ε', 'add ε');
  const sigma = named(shifted.sqrt(), 'σ', 'sqrt');
  const normalized = named(centred.div(sigma), 'x̂', 'divide');
  const scaled = named(normalized.mul(gamma), 'γ·x̂', 'scale');
  return named(scaled.add(beta), 'y', 'shift');
}

export interface ModelOptions {
  batch: number;
  features: number;
  seed: number;
  primitives?: boolean;
}

/** A built model: its outputs, the leaves a gradient check varies, and how to name its sizes. */
export interface BuiltModel {
  readonly title: string;
  readonly outputs: readonly Tensor[];
  readonly inputs: readonly Tensor[];
  /** Letters for the sizes in the picture (`N×D` rather than `4×3`). */
  readonly dims: Readonly<Record<string, number>>;
  /** The same computation as a function of `inputs`, for gradcheck. */
  readonly fn: (...inputs: Tensor[]) => Tensor;
}

/** Standard normal values scaled and shifted, so a batch visibly has its own mean and spread. */
function sample(shape: number[], seed: number, scale: number, shift: number, options: { name: string; requiresGrad?: boolean; isParameter?: boolean }): Tensor {
  const values = randn(shape, { seed }).data.map((v) => shift + scale * v);
  return new Tensor(values, shape, { requiresGrad: true, ...options });
}

export function buildBatchNorm({ batch, features, seed, primitives = false }: ModelOptions): BuiltModel {
  const x = sample([batch, features], seed, 2, 1, { name: 'x' });
  const gamma = new Tensor(rand([features], { seed: seed + 1 }).data.map((v) => 0.5 + v), [features], { name: 'γ', isParameter: true });
  const beta = sample([features], seed + 2, 0.1, 0, { name: 'β', isParameter: true });
  const fn = (x: Tensor, gamma: Tensor, beta: Tensor) => batchNorm(x, gamma, beta, { primitives });
  return {
    title: `Batch Normalization${primitives ? ' (primitives)' : ''}: y = γ·(x − μ)/√(σ² + ε) + β`,
    outputs: [fn(x, gamma, beta)],
    inputs: [x, gamma, beta],
    dims: { N: batch, D: features },
    fn,
  };
}

/** x @ W + b, like torch.nn.Linear with the weight stored input-major. */
function linear(scope: string, x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return withScope(scope, () => x.matmul(weight).add(bias));
}

/** Linear → BatchNorm1d → ReLU → Linear, each module in its own scope, like torch.nn.Sequential. */
export function buildMlp({ batch, features, seed }: ModelOptions): BuiltModel {
  const hidden = features + 2;
  const outputs = 2;
  const parameter = (name: string) => ({ name, isParameter: true });
  const x = sample([batch, features], seed, 1, 0, { name: 'x', requiresGrad: false });
  const w1 = sample([features, hidden], seed + 1, 1 / Math.sqrt(features), 0, parameter('fc1.weight'));
  const b1 = sample([hidden], seed + 2, 0.1, 0, parameter('fc1.bias'));
  // PyTorch's BatchNorm1d starts at γ = 1, β = 0.
  const gamma = ones([hidden], parameter('bn.γ'));
  const beta = zeros([hidden], parameter('bn.β'));
  const w2 = sample([hidden, outputs], seed + 5, 1 / Math.sqrt(hidden), 0, parameter('fc2.weight'));
  const b2 = sample([outputs], seed + 6, 0.1, 0, parameter('fc2.bias'));
  const fn = (x: Tensor, w1: Tensor, b1: Tensor, gamma: Tensor, beta: Tensor, w2: Tensor, b2: Tensor) =>
    withScope('Sequential', () => {
      const h = linear('fc1: Linear', x, w1, b1);
      const normalized = withScope('bn: BatchNorm1d', () => batchNorm(h, gamma, beta));
      const activated = withScope('relu: ReLU', () => normalized.relu());
      const out = linear('fc2: Linear', activated, w2, b2);
      out.name = 'output';
      return out;
    });
  return {
    title: 'MLP: Linear → BatchNorm1d → ReLU → Linear',
    outputs: [fn(x, w1, b1, gamma, beta, w2, b2)],
    inputs: [x, w1, b1, gamma, beta, w2, b2],
    dims: { N: batch, D: features, H: hidden, O: outputs },
    fn: fn as (...inputs: Tensor[]) => Tensor,
  };
}
