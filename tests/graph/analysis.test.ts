import { describe, expect, it } from 'vitest';
import { analyze, tensor, trace } from 'gradgraph';
import { standInMlp } from './fixtures.js';

describe('analyze', () => {
  it('orders every node after the nodes it was computed from', () => {
    const graph = trace(standInMlp());
    const { order } = analyze(graph);
    const position = new Map(order.map((key, i) => [key, i]));
    expect(order).toHaveLength(graph.order);
    graph.forEachEdge((_, __, source, target) => expect(position.get(source)!).toBeLessThan(position.get(target)!));
  });

  it('counts ops by kind and tensors by role, and measures depth in ops', () => {
    const a = tensor([1, 2], { requiresGrad: true, name: 'a' });
    const b = tensor([3, 4], { name: 'w', isParameter: true });
    const y = a.mul(b).add(a).sum();
    const { counts, depth, steps } = analyze(trace(y));
    expect(counts.byOp).toEqual({ mul: 1, add: 1, sum: 1 });
    expect(counts.byRole).toEqual({ input: 1, parameter: 1, buffer: 0, constant: 0, intermediate: 2, output: 1 });
    expect(counts).toMatchObject({ ops: 3, tensors: 5 });
    expect(depth).toBe(3);
    expect(steps.map((s) => s.label)).toEqual(['×', '+', 'sum']);
  });
});
