import { describe, expect, it } from 'vitest';
import { analyze, tensor, trace, withScope, type TensorNodeAttributes } from 'gradgraph';
import { STAND_IN_STEPS, standInBatchNorm, upstream } from './fixtures.js';

const tensorAttributes = (graph: ReturnType<typeof trace>, key: string) => graph.getNodeAttributes(key) as TensorNodeAttributes;

describe('trace', () => {
  it('gives the same keys, order and attributes for the same graph built twice', () => {
    const first = trace(standInBatchNorm().y).export();
    // Unrelated ops in between move every creation counter; the keys must not notice.
    for (let i = 0; i < 5; i++) tensor([1, 2], { requiresGrad: true }).mul(3).sum();
    const second = trace(standInBatchNorm().y).export();
    expect(second).toEqual(first);
    expect(first.nodes.map((n) => n.key).slice(0, 4)).toEqual(['t0', 'op0', 't1', 'op1']);
  });

  it('records the BN steps in order, the roles of tensors and the shapes', () => {
    const { y } = standInBatchNorm({ batch: 4, features: 3 });
    const graph = trace(y);
    const { steps, counts, depth } = analyze(graph);
    expect(steps.map((s) => s.label).filter((label) => label !== 'x²')).toEqual(STAND_IN_STEPS);
    expect(counts.byRole).toEqual({ input: 1, parameter: 2, buffer: 0, constant: 1, intermediate: 8, output: 1 });
    expect(depth).toBe(9);
    const byName = new Map(graph.filterNodes((_, a) => a.kind === 'tensor').map((key) => [tensorAttributes(graph, key).label, tensorAttributes(graph, key)]));
    expect(byName.get('μ')?.shape).toEqual([1, 3]);
    expect(byName.get('x̂')?.shape).toEqual([4, 3]);
    expect(byName.get('γ')?.role).toBe('parameter');
    expect(byName.get('y')?.role).toBe('output');
    expect(graph.getAttribute('outputs')).toEqual([graph.findNode((_, a) => a.kind === 'tensor' && a.label === 'y')]);
  });

  it('draws a tensor passed twice to one op as one edge naming both arguments', () => {
    const a = tensor([1, 2], { requiresGrad: true, name: 'a' });
    const graph = trace(a.mul(a));
    expect(graph.size).toBe(2);
    expect(graph.getEdgeAttributes('t0', 'op0')).toEqual({ kind: 'input', arguments: ['a', 'b'], positions: [0, 1] });
  });

  it('walks a chain of 50,000 ops without recursion', () => {
    let t = tensor([1], { requiresGrad: true });
    for (let i = 0; i < 50_000; i++) t = t.add(1);
    const graph = trace(t);
    expect(graph.order).toBe(100_001 + 50_000);
    expect(analyze(graph).depth).toBe(50_000);
  });

  it('traces a tensor used 100,000 times in about the time of a chain as long', () => {
    // Each use of x is a new user scope of x: once copied on every use, 82 s here.
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    let shared = x;
    for (let i = 0; i < 100_000; i++) shared = shared.add(x);
    let chain = tensor([1, 2], { requiresGrad: true });
    for (let i = 0; i < 100_000; i++) chain = chain.neg();
    // Timed up to a first read of the graph, so no work left for later can hide from the figure.
    const seconds = (t: typeof x, nodes: number) => {
      const start = performance.now();
      const graph = trace(t);
      expect(graph.order).toBe(nodes);
      return { seconds: (performance.now() - start) / 1000, graph };
    };
    const alone = seconds(chain, 200_001);
    const used = seconds(shared, 200_001);
    expect(used.graph.outDegree('t0')).toBe(100_000);
    // Generous: the same work as the chain, give or take the machine's load; quadratic was 50×.
    expect(used.seconds).toBeLessThan(5 * alone.seconds + 1);
  });

  it('shows what the tensors held when traced, even when the graph is first read later', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const y = x.mul(3).sum();
    const readAtOnce = trace(y).export();
    const graph = trace(y);
    y.backward();
    x.name = 'renamed';
    y.withLabel('total');
    x.storage[0] = 100;
    expect(graph.export()).toEqual(readAtOnce);
    expect(tensorAttributes(graph, 't0')).toMatchObject({ label: 'x', grad: null, value: { values: [1, 2] } });
  });

  it('keeps value summaries, small tensors whole, and gradients after backward', () => {
    const { y, gamma } = standInBatchNorm({ batch: 4, features: 3 });
    y.backward(upstream(y), { retainGrads: true });
    const graph = trace(y);
    const key = graph.findNode((_, a) => a.kind === 'tensor' && a.label === 'x̂')!;
    const normalized = tensorAttributes(graph, key);
    expect(normalized.value.summary?.mean).toBeCloseTo(0, 12);
    expect(normalized.value.summary?.std).toBeCloseTo(1, 3);
    expect(normalized.value.values).toHaveLength(12);
    expect(normalized.grad?.summary).not.toBeNull();
    const gammaKey = graph.findNode((_, a) => a.kind === 'tensor' && a.label === 'γ')!;
    expect(tensorAttributes(graph, gammaKey).grad?.values).toEqual(Array.from(gamma.grad!.data));
  });

  it('records module scopes, and draws a parameter inside the only module that uses it', () => {
    const { y } = withScope('Sequential', () => standInBatchNorm({ scope: 'bn: BatchNorm1d' }));
    const graph = trace(y);
    graph.forEachNode((_, a) => {
      if (a.kind === 'op' || a.label === 'γ' || a.label === 'β' || a.label === '0.00001') {
        expect(a.scope).toEqual(['Sequential', 'bn: BatchNorm1d']);
      }
      if (a.kind === 'tensor' && a.label === 'x') expect(a.scope).toEqual([]);
    });
  });

  it('walks the backward graph a createGraph pass recorded, marking its nodes', () => {
    const { y, x } = standInBatchNorm({ batch: 3, features: 2 });
    const forward = trace(y);
    y.backward(upstream(y), { createGraph: true });
    const graph = trace(y, { recordedBackward: true });
    expect(graph.order).toBeGreaterThan(forward.order);
    forward.forEachNode((key, a) => expect(graph.getNodeAttribute(key, 'phase')).toBe(a.phase));
    const gradientOfX = graph.findNode((_, a) => a.kind === 'tensor' && a.gradientOf === 't0');
    expect(gradientOfX).toBeDefined();
    expect(tensorAttributes(graph, gradientOfX!).value.values).toEqual(Array.from(x.grad!.data));
    expect(graph.filterNodes((_, a) => a.phase === 'backward').length).toBe(graph.order - forward.order);
  });

  it('gives constants alike one shared, frozen record of their values, and -0 its own', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const graph = trace([x.mul(2), x.mul(2), x.mul(-0), x.mul(0)]);
    const constants = graph.filterNodes((_, a) => a.kind === 'tensor' && a.role === 'constant').map((key) => tensorAttributes(graph, key));
    expect(constants.map((a) => a.value.values)).toEqual([[2], [2], [-0], [0]]);
    expect(Object.is(constants[2].value.values![0], -0)).toBe(true);
    expect(constants[0].value).toBe(constants[1].value);
    expect(Object.isFrozen(constants[0].value.values)).toBe(true);
    expect(constants[0].value.summary).toEqual({ mean: 2, std: 0, min: 2, max: 2 });
  });

  it('names a bad argument', () => {
    expect(() => trace([tensor(1), 3 as never])).toThrow('trace: output 1 must be a Tensor, got 3');
    expect(() => trace(3 as never)).toThrow('trace: outputs must be a Tensor or an array of Tensors, got 3');
    expect(() => trace(null as never)).toThrow('trace: outputs must be a Tensor or an array of Tensors, got null');
    expect(() => trace([])).toThrow('trace: no outputs to trace');
  });
});
