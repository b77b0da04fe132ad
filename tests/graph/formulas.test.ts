import { describe, expect, it } from 'vitest';
import { BatchNorm1d, batchNormFused, binaryCrossEntropyWithLogits, defineOp, meanSquare, randn, softplus, tensor, trace, type Tensor } from 'gradgraph';

/** The formulas of every op in the graph of `output`, keyed `label: formula, formula`. */
function formulasOf(output: Tensor, dims: Record<string, number> = {}): string[] {
  const graph = trace(output, { dims });
  return graph.filterNodes((_, a) => a.kind === 'op').map((key) => {
    const a = graph.getNodeAttributes(key);
    return a.kind === 'op' ? `${a.op}: ${a.formulas.join(' | ')}` : '';
  });
}

const named = (shape: number[], name: string, seed = 1) => randn(shape, { seed, name, requiresGrad: true });

describe('gradient formulas', () => {
  it('writes each elementwise op in its inputs\' names, with a Σ where an input was broadcast', () => {
    const a = named([4, 3], 'a');
    const b = named([3], 'b', 2);
    const dims = { N: 4, D: 3 };
    const product = a.mul(b);
    product.name = 'p';
    expect(formulasOf(product, dims)).toEqual(['mul: ∂L/∂p · b | Σₙ ∂L/∂p · a']);
    const quotient = a.div(b);
    quotient.name = 'q';
    expect(formulasOf(quotient, dims)).toEqual(['div: ∂L/∂q / b | −Σₙ ∂L/∂q · a / b²']);
    const difference = b.sub(a);
    difference.name = 'd';
    expect(formulasOf(difference, dims)).toEqual(['sub: Σₙ ∂L/∂d | −∂L/∂d']);
  });

  it('names a summed axis by its letter when it has one, else by its number', () => {
    const a = named([4, 3], 'a');
    const column = named([4, 1], 'c', 2);
    const sum = a.add(column);
    sum.name = 's';
    // D has no subscript letter in Unicode: Σ_D.
    expect(formulasOf(sum, { N: 4, D: 3 })).toEqual(['add: ∂L/∂s | Σ_D ∂L/∂s']);
    expect(formulasOf(sum)).toEqual(['add: ∂L/∂s | Σ₁ ∂L/∂s']);
    const scalar = named([], 'k', 3);
    const shifted = a.add(scalar);
    shifted.name = 's';
    expect(formulasOf(shifted, { N: 4, L: 3 })).toEqual(['add: ∂L/∂s | Σₙₗ ∂L/∂s']);
  });

  it('puts compound names in parentheses next to an operator, and not inside a function call', () => {
    const x = named([4, 3], 'x − μ');
    const r = x.abs();
    r.name = '|x − μ|';
    expect(formulasOf(r)).toEqual(['abs: ∂L/∂(|x − μ|) · sign(x − μ)']);
    const s = x.square();
    s.name = 'q';
    expect(formulasOf(s)).toEqual(['square: 2 · ∂L/∂q · (x − μ)']);
  });

  it('writes reductions with the count they divide by, as a letter when the picture names it', () => {
    const x = named([4, 3], 'x');
    const mu = x.mean(0, { keepdims: true });
    mu.name = 'μ';
    expect(formulasOf(mu, { N: 4, D: 3 })).toEqual(['mean: ∂L/∂μ / N']);
    expect(formulasOf(mu)).toEqual(['mean: ∂L/∂μ / 4']);
  });

  it('has a formula for every built-in op', () => {
    const x = named([2, 3], 'x');
    const w = named([3, 2], 'W', 2);
    const outputs = [
      x.pow(named([2, 3], 'e', 3)), x.relu(), x.neg(), x.exp(), x.sigmoid(), softplus(x), x.tanh(), x.square().sqrt(), x.square().log(),
      x.sum(), x.max(1), meanSquare(x, 0), x.matmul(w), x.reshape([3, 2]), x.transpose(), x.transpose([1, 0]),
      batchNormFused(x, named([3], 'γ', 4), named([3], 'β', 5)),
    ];
    for (const output of outputs) {
      for (const line of formulasOf(output)) {
        expect(line).not.toMatch(/undefined|NaN|\[object/);
        expect(line).toMatch(/∂L\/∂/);
      }
    }
    expect(formulasOf(x.matmul(w).reshape([4]))).toContain('matmul: ∂L/∂(@) @ Wᵀ | xᵀ @ ∂L/∂(@)');
  });

  it('writes the fused BN gradient in closed form, summed over the batch', () => {
    const y = batchNormFused(named([4, 3], 'x'), named([3], 'γ', 2), named([3], 'β', 3));
    y.name = 'y';
    expect(formulasOf(y, { N: 4, D: 3 })).toEqual([
      'batchNormFused: γ / σ · (∂L/∂y − Σₙ ∂L/∂y / N − x̂ · Σₙ ∂L/∂y · x̂ / N) | Σₙ ∂L/∂y · x̂ | Σₙ ∂L/∂y',
    ]);
  });

  it('writes the BCE loss gradient for the logits and the targets', () => {
    const loss = binaryCrossEntropyWithLogits(named([4, 1], 'z'), named([4, 1], 'y', 2));
    loss.name = 'loss';
    expect(formulasOf(loss, { N: 4 })).toEqual(['binaryCrossEntropyWithLogits: ∂L/∂loss · (σ(z) − y) / N | −∂L/∂loss · z / N']);
  });

  it('takes a custom op\'s formula, or writes the chain rule without one', () => {
    const cube = defineOp({
      name: 'cube',
      forward: (x) => x.mul(x).mul(x),
      backward: ({ inputs: [x] }, g) => [g.mul(x.square()).mul(3)],
      formula: ({ inputs: [x], grad }) => [`3 · ${grad} · ${x}²`],
    });
    const plain = defineOp({ name: 'plain', forward: (x) => x.neg(), backward: (_, g) => [g.neg()] });
    const x = named([2], 'x');
    const y = cube(x);
    y.name = 'y';
    expect(formulasOf(y)).toEqual(['cube: 3 · ∂L/∂y · x²']);
    const z = plain(x);
    z.name = 'z';
    expect(formulasOf(z)).toEqual(['plain: ∂L/∂z · ∂z/∂x']);
  });

  it('names the op when its formula is missing a string or is not a function', () => {
    const wrong = defineOp({ name: 'wrong', forward: (a, b) => a.add(b), backward: (_, g) => [g, g], formula: ({ grad }) => [grad] });
    expect(() => trace(wrong(named([2], 'a'), named([2], 'b')))).toThrow(`formula of op 'wrong' must return one string per input (2), got ["∂L/∂wrong"]`);
    expect(() => defineOp({ name: 'bad', forward: (x) => x, backward: (_, g) => [g], formula: 'g' as never })).toThrow(`defineOp: 'bad' formula must be a function returning one string per input, got string`);
  });

  it('draws BN\'s running statistics as buffers of the module in eval mode', () => {
    const bn = new BatchNorm1d(3, { name: 'bn' }).eval();
    const graph = trace(bn.call(tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true })));
    const buffers = graph.filterNodes((_, a) => a.kind === 'tensor' && a.role === 'buffer').map((key) => graph.getNodeAttributes(key));
    // Nothing records σ in eval mode: it is computed from runningVar, and drawn as the state it is.
    expect(buffers.map((a) => [a.label, a.scope])).toEqual([['runningMean', ['bn']], ['√(runningVar + ε)', ['bn']]]);
    const channels = new BatchNorm1d(2, { name: 'bn' }).eval();
    const graph3d = trace(channels.call(randn([2, 2, 3], { seed: 1, requiresGrad: true })));
    const labels = graph3d.filterNodes((_, a) => a.kind === 'tensor' && a.role === 'buffer').map((key) => graph3d.getNodeAttribute(key, 'label'));
    expect(labels).toEqual(['runningMean', '√(runningVar + ε)']);
  });
});
