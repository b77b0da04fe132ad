import { describe, expect, it } from 'vitest';
import { explorerData, tensor, trace } from 'gradgraph';
import { describeOp, describeStep, heatColor, progress, stepLights, tableCells, TABLE_LIMIT, valuesView } from '../../../src/graph/explorer/page/logic.js';
import { standInBatchNorm, upstream } from '../fixtures.js';

function bnData() {
  const { y } = standInBatchNorm();
  y.backward(upstream(y), { retainGrads: true });
  return explorerData(trace(y, { gradientParts: true }), { dims: { N: 4, D: 3 } });
}

describe('the explorer page logic', () => {
  it('lights an op with its inputs and output going forward, one gradient edge going back', () => {
    const data = bnData();
    const first = stepLights(data, data.steps[0]);
    const mean = data.ops[data.steps[0].kind === 'forward' ? data.steps[0].op : ''];
    expect(first.nodes).toEqual([mean.key, mean.output, mean.inputs[0].tensor]);
    expect(first.edges).toEqual([`${mean.inputs[0].tensor}->${mean.key}`, `${mean.key}->${mean.output}`]);
    const back = data.steps.at(-1)!;
    expect(back.kind).toBe('backward');
    if (back.kind === 'backward') expect(stepLights(data, back).gradientEdges).toEqual([`${back.tensor}->${back.op}`]);
  });

  it('counts what is computed and which gradients have started to gather', () => {
    const data = bnData();
    const before = progress(data, -1);
    expect([...before.computed].map((k) => data.tensors[k].label).sort()).toEqual(['0.00001', 'x', 'β', 'γ'].sort());
    const all = progress(data, data.steps.length - 1);
    expect(all.computed.size).toBe(Object.keys(data.tensors).length);
    expect([...all.graded].map((k) => data.tensors[k].label)).toContain('x');
  });

  it('says which part of a gradient a step carries and when the sum is complete', () => {
    const data = bnData();
    const index = data.steps.length - 1;
    const { heading, lines, valuesCaption } = describeStep(data, index);
    expect(heading).toBe(`Step ${index + 1} of ${index + 1} · backward: mean → x`);
    expect(lines).toContain('x used by 2 steps: its gradient is the sum of the 2 parts, now complete.');
    expect(valuesCaption).toBe('part 2 of ∂L/∂x =');
  });

  it('writes an op\'s local gradient per input that needs one, += where the input gathers parts', () => {
    const data = bnData();
    const subtract = Object.values(data.ops).find((op) => op.label === 'subtract')!;
    const { formulas, lines } = describeOp(data, subtract.key);
    expect(lines[0]).toBe('primitive sub');
    expect(formulas.map((f) => f.split(' ').slice(0, 2).join(' '))).toEqual(['∂L/∂x +=', '∂L/∂μ =']);
  });

  it('shows the op table\'s formulas, summed for an input passed twice, and the chain rule without them', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const data = explorerData(trace(x.mul(x)));
    const op = Object.values(data.ops)[0];
    expect(op.inputs[0].positions).toEqual([0, 1]);
    expect(op.formulas).toEqual(['∂L/∂(×) · x', '∂L/∂(×) · x']);
    expect(describeOp(data, op.key).formulas).toEqual(['∂L/∂x = ∂L/∂(×) · x + ∂L/∂(×) · x']);
    const withoutFormulas = { ...data, ops: { [op.key]: { ...op, formulas: null } } };
    expect(describeOp(withoutFormulas, op.key).formulas).toEqual(['∂L/∂x = ∂L/∂(×) · ∂(×)/∂x']);
  });

  it('shows small tensors as tables, larger as heatmaps, unkept values as a summary', () => {
    expect(valuesView({ summary: null, values: new Array(TABLE_LIMIT).fill(0) })).toBe('table');
    expect(valuesView({ summary: null, values: new Array(TABLE_LIMIT + 1).fill(0) })).toBe('heatmap');
    expect(valuesView({ summary: null, values: null })).toBe('summary');
    expect(tableCells([1, 2.5, -3, 4, 5, 6], [2, 3])).toEqual([['1.00', '2.50', '-3.00'], ['4.00', '5.00', '6.00']]);
  });

  it('colours a heatmap red above zero, blue below, white at zero', () => {
    expect(heatColor(0, 1)).toBe('rgb(255, 255, 255)');
    expect(heatColor(1, 1)).toBe('rgb(192, 57, 43)');
    expect(heatColor(-2, 1)).toBe('rgb(41, 98, 184)');
    expect(heatColor(Number.NaN, 1)).toBe('rgb(0, 0, 0)');
  });
});
