import { describe, expect, it } from 'vitest';
import { checkRecordedOps, renderSvg, Tensor, tensor, toDot, trace } from 'gradgraph';
import { checkedNet, standInBatchNorm, upstream } from './fixtures.js';
import { GOLDENS } from './goldens.js';
import { expectGolden, svgTexts } from './helpers.js';

describe('toDot', () => {
  for (const [name, build] of Object.entries(GOLDENS)) {
    it(`matches the golden file ${name} and renders`, async () => {
      const dot = build();
      expectGolden(name, dot);
      expect(build()).toBe(dot);
      await expect(renderSvg(dot)).resolves.toMatch(/^<\?xml/);
    });
  }

  it('writes the same bytes from a tensor or from its trace', () => {
    const { y } = standInBatchNorm();
    expect(toDot(trace(y), { values: 'summary' })).toBe(toDot(y, { values: 'summary' }));
  });

  it('labels every tensor with its name and shape, and draws parameters apart from data', () => {
    const dot = toDot(standInBatchNorm({ batch: 4, features: 3 }).y);
    expect(dot).toContain('label="x̂\\n4×3"');
    expect(dot).toContain('label="μ\\n1×3"');
    expect(dot).toMatch(/"t\d+" \[shape="box", style="filled,bold", fillcolor="#ffd866", [^\]]*label="γ\\n3"\]/);
    expect(dot).toMatch(/"t0" \[shape="box", style="filled,rounded", fillcolor="#d9f0d3", [^\]]*label="x\\n4×3"\]/);
    expect(dot).toMatch(/"op\d+" \[shape="ellipse", [^\]]*label="variance"\]/);
  });

  it('writes sizes as letters when told which, keeping numbers two letters share', () => {
    const { y } = standInBatchNorm({ batch: 3, features: 3 });
    expect(toDot(y, { dims: { N: 4, D: 3 } })).toContain('label="x̂\\nD×D"');
    expect(toDot(y, { dims: { N: 3, D: 3 } })).toContain('label="x̂\\n3×3"');
  });

  it('shows every value of small gradients with grads: \'full\', with or without the values', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true, name: 'x' });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGrads: true });
    const full = toDot(y, { grads: 'full' });
    expect(full).toContain('label="x\\n2×2\\n∇ [2.00  4.00]\\n∇ [6.00  8.00]"');
    expect(toDot(y, { grads: true })).toContain('label="x\\n2×2\\n∇ mean 5.00  std 2.24\\n∇ min 2.00  max 8.00"');
    expect(toDot(y, { grads: true })).toBe(toDot(y, { grads: 'summary' }));
    expect(toDot(y, { values: 'full', grads: true })).toBe(toDot(y, { values: 'full', grads: 'full' }));
    expect(() => toDot(y, { grads: 'all' as never })).toThrow(`toDot: option grads must be true, false, 'summary' or 'full', got the string 'all'`);
  });

  it('shows gradients only after a backward pass, and the seed of the gradient flow', async () => {
    const { y } = standInBatchNorm();
    expect(toDot(y, { grads: true })).not.toContain('∇');
    y.backward(tensor(Array.from({ length: 12 }, (_, i) => i % 5), { shape: [4, 3] }), { retainGrads: true });
    const dot = toDot(y, { grads: true, backward: 'edges' });
    expect(dot).toContain('∇ mean');
    // x − μ feeds the square and the divide: each edge carries a part of its gradient, and the
    // node says that the gradient is their sum.
    expect(dot).toContain('label="∂L/∂(x − μ) += ∂L/∂x̂ / σ"');
    expect(dot).toContain('label="∂L/∂(x − μ) +=\\n2 · ∂L/∂x² · (x − μ)"');
    expect(dot).toContain('\\n∂L/∂(x − μ) = sum of 2 parts"');
    expect(dot).not.toMatch(/∂L\/∂\(x − μ\) = [^s]/);
    const texts = svgTexts(await renderSvg(dot));
    // σ feeds only the divide: its edge carries the whole gradient, summed over the batch.
    expect(texts).toContain('∂L/∂σ =');
    expect(texts).toContain('−Σ₀ ∂L/∂x̂ · (x − μ) / σ²');
    expect(texts).not.toContain('∂L/∂σ +=');
    expect(texts).toContain('(upstream)');
  });

  it('numbers the steps, in forward order on the ops and backward order on the gradient edges', () => {
    const { y } = standInBatchNorm();
    y.backward(upstream(y), { retainGrads: true });
    const dot = toDot(y, { backward: 'edges', steps: true, dims: { N: 4, D: 3 } });
    // The stand-in squares x − μ in a step of its own (x²), before the variance: 9 ops.
    ['mean', 'subtract', 'x²', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift'].forEach((label, i) => expect(dot).toContain(`label="${i + 1}. ${label}"`));
    // divide is forward step 7 of 9, so backward step 3.
    expect(dot).toContain('label="(3) ∂L/∂σ =\\n−Σₙ ∂L/∂x̂ · (x − μ) / σ²"');
    expect(dot).toContain('label="(1) ∂L/∂β = Σₙ ∂L/∂y"');
    // x feeds the mean (backward step 9) and the subtract (backward step 8).
    expect(dot).toContain('label="x\\nN×D\\n∂L/∂x = (8) + (9)"');
  });

  it('left to right, keeps formula labels narrow, breaking outside parentheses and before an operator', () => {
    const { y } = standInBatchNorm();
    y.backward(upstream(y), { retainGrads: true });
    const dot = toDot(y, { backward: 'edges', steps: true, dims: { N: 4, D: 3 }, direction: 'LR' });
    expect(dot).toContain('label="(3) ∂L/∂σ =\\n−Σₙ ∂L/∂x̂\\n· (x − μ) / σ²"');
    expect(dot).toContain('label="(1) ∂L/∂β =\\nΣₙ ∂L/∂y"');
    // Each result stands under its op, in the op's column: half as many columns.
    expect(dot).toContain('{ rank="same"; "op0"; "t1"; }');
    expect(toDot(y)).not.toContain('rank="same"');
  });

  it('says where the gradients started: 1 for a scalar loss, else what it was told', () => {
    const { y } = standInBatchNorm();
    const loss = y.square().sum();
    loss.name = 'loss';
    loss.backward();
    expect(toDot(loss, { backward: 'edges' })).toContain('label="∂L/∂L = 1\\n(L is loss)"');
    const seededWithTwo = standInBatchNorm().y.sum();
    seededWithTwo.backward(tensor(2), { retainGrads: true });
    expect(toDot(seededWithTwo, { backward: 'edges' })).toContain('(upstream)');
    const other = standInBatchNorm().y;
    other.backward(upstream(other), { retainGrads: true });
    const dot = toDot(other, { backward: 'edges', upstream: 'random, seed 7', title: 'BN' });
    expect(dot).toContain('label="∂L/∂y\\nrandom, seed 7"');
    expect(dot).toContain('label="BN\\ngradients from ∂L/∂y: random, seed 7"');
  });

  it('keys the picture with a legend of only what it contains', () => {
    const { y } = standInBatchNorm();
    y.backward(upstream(y), { retainGrads: true });
    const plain = toDot(y, { legend: true });
    expect(plain).toContain('subgraph "cluster_legend"');
    expect(plain).toContain('label="parameter (learned)"');
    expect(plain).not.toContain('buffer');
    expect(plain).not.toContain('gradient: ∂L/∂t');
    const backward = toDot(y, { legend: true, backward: 'edges', steps: true, grads: true });
    for (const note of ['gradient: ∂L/∂t', 'n. on a step', 'backward step n', 'Σₙ: summed over', '+=: t feeds several steps', '∇ lines']) {
      expect(backward).toContain(note);
    }
    expect(toDot(y)).not.toContain('legend');
  });

  it('keys a recorded backward graph with its own colours and the dotted tie to each gradient', () => {
    const { y } = standInBatchNorm({ batch: 2, features: 1 });
    const g = upstream(y);
    y.backward(new Tensor(g.data, g.shape, { requiresGrad: true, name: '∂L/∂y' }), { createGraph: true });
    const dot = toDot(y, { legend: true, backward: 'recorded' });
    expect(dot).toContain('label="backward op"');
    expect(dot).toContain('label="gradient, recorded\\nby the backward pass"');
    expect(dot).toContain('style="dotted", color="#c0392b", fontcolor="#c0392b", label="is the gradient of"');
    expect(dot).not.toContain('passed back');
  });

  it('fits a target size in pixels, and refuses a size that is not one', () => {
    const { y } = standInBatchNorm();
    expect(toDot(y, { fit: { width: 1920, height: 1080 } })).toContain('size="20,11.25!"');
    expect(() => toDot(y, { fit: { width: 1920, height: 0 } })).toThrow('toDot: option fit must be { width, height } in pixels, each at least 16, got {"width":1920,"height":0}');
  });

  it('marks each op with its own gradient check: colour, worst error, and the culprit with a heavy border', async () => {
    const y = checkedNet();
    const checks = checkRecordedOps([y]);
    const dot = toDot(y, { checks });
    expect(dot).toMatch(/"op0" \[[^\]]*fillcolor="#f8c9c4", color="#c0392b", penwidth=3, label="x³\\nCULPRIT\\n✗ ∂\/∂x wrong at \[0, 1\]\\nmax rel err 0\.0099/);
    expect(dot).toMatch(/"op1" \[[^\]]*fillcolor="#fff1c2"[^\]]*label="relu\\nkink: 1 of 6"/);
    expect(dot).toMatch(/"op2" \[[^\]]*fillcolor="#b9e4c2"[^\]]*label="@\\n✓ max rel err /);
    // Without checks, the same graph is drawn as ever.
    expect(toDot(checkedNet())).not.toMatch(/CULPRIT|✓|kink/);
    expect(toDot(y, { checks: [] })).toBe(toDot(y));
    expect(svgTexts(await renderSvg(dot))).toContain('✗ ∂/∂x wrong at [0, 1]');
    expect(() => toDot(y, { checks: {} as never })).toThrow('toDot: option checks must be the array checkRecordedOps returns, got object');
  });

  it('names the option and the allowed values when an option is wrong', () => {
    const { y } = standInBatchNorm();
    expect(() => toDot(y, { direction: 'BT' as never })).toThrow(`toDot: option direction must be one of 'TB', 'LR', got "BT"`);
    expect(() => toDot(y, { values: 'all' as never })).toThrow(/option values must be one of 'none', 'summary', 'full'/);
  });

  it('names what it was given instead of tensors, before tracing anything', () => {
    expect(() => toDot(3 as never)).toThrow('toDot: source must be a Tensor, an array of Tensors or a trace() graph, got 3');
    expect(() => toDot({} as never)).toThrow('toDot: source must be a Tensor, an array of Tensors or a trace() graph, got an object');
    expect(() => toDot([])).toThrow('trace: no outputs to trace');
  });
});
