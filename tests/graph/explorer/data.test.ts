import { describe, expect, it } from 'vitest';
import { explorerData, tensor, trace } from 'gradgraph';
import { standInBatchNorm, upstream } from '../fixtures.js';

describe('explorerData', () => {
  it('walks the forward ops in order, then seeds the output and passes each gradient back in reverse', () => {
    const { y } = standInBatchNorm();
    y.backward(upstream(y), { retainGrads: true });
    const data = explorerData(trace(y, { gradientParts: true }));
    const forward = data.steps.filter((s) => s.kind === 'forward').map((s) => data.ops[s.op].label);
    expect(forward.filter((label) => label !== 'x²')).toEqual(['mean', 'subtract', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift']);
    const firstBackward = data.steps.findIndex((s) => s.kind !== 'forward');
    expect(data.steps[firstBackward]).toEqual({ kind: 'seed', tensor: data.outputs[0] });
    const backwardOps = data.steps.slice(firstBackward + 1).map((s) => (s.kind === 'backward' ? s.op : ''));
    // Reverse forward order: each op after every op that uses its output.
    const opOrder = Object.keys(data.ops);
    expect(backwardOps).toEqual([...backwardOps].sort((a, b) => opOrder.indexOf(b) - opOrder.indexOf(a)));
  });

  it("sums the parts of a gradient step by step, ending at the tensor's .grad", () => {
    const x = tensor([[1, 2], [3, 5]], { requiresGrad: true, name: 'x' });
    const y = x.mul(x.sum(0)).add(x);
    y.backward(tensor([[1, -1], [2, 0.5]]), { retainGrads: true });
    const data = explorerData(trace(y, { gradientParts: true }));
    const parts = data.steps.filter((s) => s.kind === 'backward' && data.tensors[s.tensor].label === 'x');
    expect(parts.map((s) => (s.kind === 'backward' ? [s.part, s.parts] : []))).toEqual([[1, 3], [2, 3], [3, 3]]);
    const last = parts[2];
    expect(last.kind === 'backward' && last.runningSum?.values).toEqual(Array.from(x.grad!.data));
    // Each step's part is what that op passed back along that edge.
    const partSum = parts.map((s) => (s.kind === 'backward' ? data.ops[s.op].inputs.find((i) => i.tensor === s.tensor)!.gradient!.values! : []))
      .reduce((a, b) => a.map((v, i) => v + b[i]));
    partSum.forEach((v, i) => expect(v).toBeCloseTo(x.grad!.data[i], 12));
  });

  it('carries the formulas the trace gives an op, and null before the op table has them', () => {
    const { y } = standInBatchNorm();
    const graph = trace(y);
    const data = explorerData(graph);
    const key = Object.keys(data.ops)[0];
    const given = (graph.getNodeAttributes(key) as { formulas?: unknown }).formulas;
    expect(data.ops[key].formulas).toEqual(Array.isArray(given) ? given : null);
  });

  it('has no backward steps without gradients', () => {
    const { y } = standInBatchNorm();
    const data = explorerData(trace(y, { gradientParts: true }));
    expect(data.steps.every((s) => s.kind === 'forward')).toBe(true);
    expect(Object.values(data.ops).flatMap((op) => op.inputs).every((i) => i.gradient === null)).toBe(true);
  });
});
