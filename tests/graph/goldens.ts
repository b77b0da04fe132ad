import { checkRecordedOps, Tensor, tensor, toDot, withScope } from 'gradgraph';
import { checkedNet } from './fixtures.js';
import { standInBatchNorm, standInMlp, upstream } from './fixtures.js';

/*
 * The DOT golden files: each is written from a fresh graph, so a golden test also checks that
 * the output does not depend on anything built before it.
 */

const bnDims = { N: 4, D: 3 };

function withGradients(options: { createGraph?: boolean; batch?: number; features?: number } = {}) {
  const { y } = standInBatchNorm({ batch: options.batch ?? 4, features: options.features ?? 3 });
  const g = upstream(y);
  // As the CLI does: a recorded backward graph needs an upstream gradient that requires grad,
  // or ∂L/∂β (a sum of it alone) records no op.
  const seed = options.createGraph ? new Tensor(g.data, g.shape, { requiresGrad: true, name: '∂L/∂y' }) : g;
  y.backward(seed, { retainGrads: !options.createGraph, createGraph: options.createGraph ?? false });
  return y;
}

export const GOLDENS: Record<string, () => string> = {
  'bn-steps.dot': () => toDot(standInBatchNorm().y, { dims: bnDims, title: 'BN, steps view' }),
  'bn-primitives.dot': () => toDot(standInBatchNorm().y, { dims: bnDims, view: 'primitives', direction: 'LR' }),
  'bn-values-grads.dot': () => toDot(withGradients(), { dims: bnDims, values: 'summary', grads: true, backward: 'edges' }),
  'bn-full-values.dot': () => toDot(withGradients({ batch: 2, features: 2 }), { values: 'full', grads: true }),
  'bn-recorded-backward.dot': () => toDot(withGradients({ createGraph: true, batch: 2, features: 1 }), { backward: 'recorded' }),
  'mlp-expanded.dot': () => toDot(standInMlp(), { clusters: 'expanded' }),
  'mlp-collapsed.dot': () => toDot(standInMlp(), { clusters: 'collapsed' }),
  'op-checks.dot': () => {
    const y = checkedNet();
    return toDot(y, { checks: checkRecordedOps([y]), title: 'Each op\'s own gradient' });
  },
  'escaping.dot': () => {
    const hostile = ['say "hi"', 'back\\slash \\n \\N', 'two\nlines', '<b>&amp;</b> {a|b}', 'γ β σ² μ ε x̂'];
    const leaves = hostile.map((name, i) => tensor([i], { name, requiresGrad: true }));
    return toDot(withScope('scope "quoted" {x}', () => leaves.reduce((sum, t) => sum.add(t))), { title: 'title with "quotes" & \\' });
  },
};
