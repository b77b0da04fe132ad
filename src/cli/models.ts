import { BatchNorm1d, batchNorm, Linear, ReLU, Sequential } from '../nn/index.js';
import { rand, randn, Tensor } from '../index.js';

/* The models the CLI draws and checks, built with gradgraph's own nn. */

export interface ModelOptions {
  batch: number;
  features: number;
  seed: number;
  primitives?: boolean;
}

/** The sizes pictures and checks use unless told otherwise: small enough to read every node. */
export const DEFAULT_SIZES = { batch: 4, features: 3, seed: 0 } as const;

/** A built model: its outputs, the leaves a gradient check varies, and how to name its sizes. */
export interface BuiltModel {
  readonly title: string;
  readonly outputs: readonly Tensor[];
  readonly inputs: readonly Tensor[];
  /** Letters for the sizes in the picture (`N×D` rather than `4×3`). */
  readonly dims: Readonly<Record<string, number>>;
}

/** A model whose gradients `check` can verify: the same computation as a function of `inputs`. */
export interface CheckableModel extends BuiltModel {
  readonly fn: (...inputs: Tensor[]) => Tensor;
}

/** Standard normal values scaled and shifted, so a batch visibly has its own mean and spread. */
function sample(shape: number[], seed: number, scale: number, shift: number, options: { name: string; requiresGrad?: boolean; isParameter?: boolean }): Tensor {
  const values = randn(shape, { seed }).storage.map((v) => shift + scale * v);
  return new Tensor(values, shape, { requiresGrad: true, ...options });
}

export function buildBatchNorm({ batch, features, seed, primitives = false }: ModelOptions): CheckableModel {
  const x = sample([batch, features], seed, 2, 1, { name: 'x' });
  const gamma = new Tensor(rand([features], { seed: seed + 1 }).storage.map((v) => 0.5 + v), [features], { name: 'γ', isParameter: true });
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

/**
 * One BatchNorm1d module in both modes on the same batch: training mode normalizes with the
 * batch's statistics (and updates the running ones), eval mode with the running statistics,
 * the module's buffers. γ and β are the same tensors in both, so they stand between the boxes.
 */
export function buildBatchNormModes({ batch, features, seed }: ModelOptions): BuiltModel {
  const x = sample([batch, features], seed, 2, 1, { name: 'x' });
  const bn = new BatchNorm1d(features, { name: 'BatchNorm1d, training mode' });
  const training = bn.call(x);
  training.name = 'y (training)';
  bn.eval().name = 'BatchNorm1d, eval mode';
  const evaluation = bn.call(x);
  evaluation.name = 'y (eval)';
  return {
    title: 'BatchNorm1d in training mode (batch statistics) and eval mode (running statistics)',
    outputs: [training, evaluation],
    inputs: [x, ...bn.parameters()],
    dims: { N: batch, D: features },
  };
}

/** Linear → BatchNorm1d → ReLU → Linear, each module recorded in its own scope (a box in the picture). */
export function buildMlp({ batch, features, seed, primitives = false }: ModelOptions): BuiltModel {
  const hidden = features + 2;
  const outputs = 2;
  const net = new Sequential([
    new Linear(features, hidden, { seed: seed + 1, name: 'fc1: Linear' }),
    new BatchNorm1d(hidden, { name: 'bn: BatchNorm1d', primitives }),
    new ReLU({ name: 'relu: ReLU' }),
    new Linear(hidden, outputs, { seed: seed + 2, name: 'fc2: Linear' }),
  ], { name: 'Sequential' });
  const x = sample([batch, features], seed, 1, 0, { name: 'x', requiresGrad: false });
  const out = net.call(x);
  out.name = 'output';
  return {
    title: `MLP: Linear → BatchNorm1d → ReLU → Linear${primitives ? ' (primitives)' : ''}`,
    outputs: [out],
    inputs: [x, ...net.parameters()],
    dims: { N: batch, D: features, H: hidden, O: outputs },
  };
}
