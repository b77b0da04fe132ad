import { describe, expect, it } from 'vitest';
import * as gg from 'gradgraph';
import type { Tensor } from 'gradgraph';

/* The new ops' gradient formulas, as the backward pictures write them. */

function formulasOf(output: Tensor, dims: Record<string, number> = {}): string[] {
  const graph = gg.trace(output, { dims });
  return graph.filterNodes((_, a) => a.kind === 'op').map((key) => {
    const a = graph.getNodeAttributes(key);
    return a.kind === 'op' ? `${a.op}: ${a.formulas.join(' | ')}` : '';
  });
}

const named = (shape: number[], name: string, seed = 1) => gg.randn(shape, { seed, name, requiresGrad: true });
const as = (t: Tensor, name: string) => Object.assign(t, { name });

describe('gradient formulas of the ops for classifiers and shapes', () => {
  it('write the statistics with the count they divide by', () => {
    const x = named([4, 3], 'x');
    const dims = { N: 4, D: 3 };
    expect(formulasOf(as(x.variance(0), 'v'), dims)).toEqual(['variance: 2 · ∂L/∂v · (x − mean(x)) / (N − 1)']);
    expect(formulasOf(as(x.variance(0, { correction: 0 }), 'v'), dims)).toEqual(['variance: 2 · ∂L/∂v · (x − mean(x)) / N']);
    expect(formulasOf(as(x.std(0), 's'), dims)).toEqual(['std: ∂L/∂s · (x − mean(x)) / ((N − 1) · s)']);
  });

  it('write softmax and logSoftmax with the sum over their axis', () => {
    const x = named([4, 3], 'x');
    const dims = { N: 4, D: 3 };
    expect(formulasOf(as(x.softmax(0), 'p'), dims)).toEqual(['softmax: p · (∂L/∂p − Σₙ ∂L/∂p · p)']);
    expect(formulasOf(as(x.logSoftmax(1), 'l'))).toEqual(['logSoftmax: ∂L/∂l − exp(l) · Σ₁ ∂L/∂l']);
  });

  it('have a formula for every new op, in the tensors\' names', () => {
    const x = named([2, 3], 'x');
    const y = named([2, 3], 'y', 2);
    const outputs = [
      x.min(1), x.logsumexp(1), x.variance(), x.std(1), x.softmax(1), x.logSoftmax(0),
      gg.crossEntropy(x, gg.tensor([0, 2])), gg.nllLoss(x, gg.tensor([1, 1]), { reduction: 'sum' }),
      x.clamp(-1, 1), x.minimum(y), x.maximum(y), gg.where(gg.tensor([1, 0, 1]), x, y),
      x.sign(), x.sin(), x.cos(), x.square().log1p(), x.expm1(), x.reciprocal(), x.square().rsqrt(), x.erf(),
      gg.leakyRelu(x), gg.gelu(x), gg.elu(x, 0.5),
      gg.cat([x, y], 1), gg.stack([x, y]), ...x.split(1, 1), x.narrow(1, 1, 2), x.gather(1, gg.tensor([[0], [2]])),
      x.unsqueeze(0).squeeze(), x.flatten(), x.permute([1, 0]), x.transpose(0, 1), x.clone(), x.matmul(named([3], 'v', 3)), named([3], 'v', 3).dot(named([3], 'w', 4)),
    ];
    for (const output of outputs) {
      const lines = formulasOf(output);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).not.toMatch(/undefined|NaN|\[object/);
        expect(line).toMatch(/∂L\/∂|: 0( |$)/);
      }
    }
  });
});
