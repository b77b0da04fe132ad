import { defineOp, Tensor, randn, tensor, withScope } from 'gradgraph';

/*
 * A stand-in for the BN graph of src/nn (built on another branch), made here from core ops with
 * the same contract: eight labelled steps, named tensors, γ and β as parameters. The graph
 * tests and golden files use it so that they stay the same whatever src/nn's details become.
 */

export const STAND_IN_STEPS = ['mean', 'subtract', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift'];

function step(t: Tensor, label: string, name: string): Tensor {
  t.withLabel(label).name = name;
  return t;
}

interface StandInOptions {
  batch?: number;
  features?: number;
  seed?: number;
  /** Wrap the steps in a module scope. */
  scope?: string;
  /** Normalize this batch instead of a fresh random one. */
  x?: Tensor;
}

/** y = γ·(x − μ)/√(σ² + ε) + β over an N×D batch, step by step. */
export function standInBatchNorm(options: StandInOptions = {}) {
  const { batch = 4, features = 3, seed = 1 } = options;
  const x = options.x ?? randn([batch, features], { seed, name: 'x', requiresGrad: true });
  const width = x.shape[1];
  const gamma = randn([width], { seed: seed + 1, name: 'γ', isParameter: true });
  const beta = randn([width], { seed: seed + 2, name: 'β', isParameter: true });
  const build = () => {
    const mu = step(x.mean(0, { keepdims: true }), 'mean', 'μ');
    const centred = step(x.sub(mu), 'subtract', 'x − μ');
    const variance = step(centred.square().mean(0, { keepdims: true }), 'variance', 'σ²');
    const sigma = step(step(variance.add(1e-5), 'add ε', 'σ² + ε').sqrt(), 'sqrt', 'σ');
    const normalized = step(centred.div(sigma), 'divide', 'x̂');
    return step(step(normalized.mul(gamma), 'scale', 'γ·x̂').add(beta), 'shift', 'y');
  };
  const y = options.scope === undefined ? build() : withScope(options.scope, build);
  return { x, gamma, beta, y };
}

/** Linear → BatchNorm1d → ReLU inside a Sequential scope, for pictures with module boxes. */
export function standInMlp(): Tensor {
  const x = randn([3, 2], { seed: 10, name: 'x' });
  const weight = randn([2, 4], { seed: 11, name: 'fc.weight', isParameter: true });
  const bias = randn([4], { seed: 12, name: 'fc.bias', isParameter: true });
  return withScope('Sequential', () => {
    const h = withScope('fc: Linear', () => x.matmul(weight).add(bias));
    const { y } = standInBatchNorm({ x: h, scope: 'bn: BatchNorm1d', seed: 13 });
    return withScope('relu: ReLU', () => y.relu());
  });
}

/** A seeded upstream gradient for y, so pictures of gradients are the same on every run. */
export function upstream(y: Tensor, seed = 7): Tensor {
  return randn(y.shape, { seed });
}

/** x³ whose gradient is 1% too large in element 1: a culprit for pictures of the per-op check. */
const wrongCube = defineOp({
  name: 'cube',
  inputNames: ['x'],
  label: 'x³',
  forward: (x) => x.mul(x).mul(x),
  backward: ({ inputs: [x] }, g) => [g.mul(x.square()).mul(3).mul(tensor([[1, 1.01, 1], [1, 1, 1]]))],
});

/** A wrong op in a module (fail), a relu on an exact 0 (kink) and a Linear (pass). */
export function checkedNet(): Tensor {
  const x = tensor([[1, -2, 0], [0.5, 3, -1]], { name: 'x', requiresGrad: true });
  const weight = randn([3, 2], { seed: 21, name: 'weight', isParameter: true });
  return withScope('Net', () => {
    const cubed = withScope('cube: Cube', () => wrongCube(x));
    const active = withScope('relu: ReLU', () => cubed.relu());
    return withScope('fc: Linear', () => active.matmul(weight));
  });
}
