import fc from 'fast-check';
import { topologicalGenerations, topologicalSort } from 'graphology-dag';
import { describe, expect, it } from 'vitest';
import { analyze, tensor, toDot, trace, type DotOptions, type TraceGraph } from 'gradgraph';
import { build, recipes } from './random-graphs.js';

/*
 * trace() returns its own compact graph, which answers graphology's read methods. Every answer
 * must be graphology's own for the same graph: toGraphology() builds that graph, node by node
 * and edge by edge, so the two are compared method by method on random recorded graphs.
 */

type Graphology = ReturnType<TraceGraph['toGraphology']>;

/** Every read method, asked of every node and edge (and of keys that are not there), as plain data. */
function answers(graph: TraceGraph | Graphology) {
  const edgeCalls: unknown[] = [];
  graph.forEachEdge((...args) => edgeCalls.push(args));
  const nodeCalls: unknown[] = [];
  graph.forEachNode((...args) => nodeCalls.push(args));
  const missing = ['t', 't01', 't1.0', 'op', 'x', 't-1', 'op99999', 't0->t0', 'op0->op0', ''];
  const isTensor = (_: string, a: { kind: string }) => a.kind === 'tensor';
  // Both overloads (edge, name) and (source, target, name), which TypeScript cannot pick on a union.
  const edgeAttribute = graph.getEdgeAttribute.bind(graph) as (...args: string[]) => unknown;
  return {
    order: graph.order,
    size: graph.size,
    type: graph.type,
    multi: graph.multi,
    nodes: graph.nodes(),
    edges: graph.edges(),
    attributes: graph.getAttributes(),
    outputs: graph.getAttribute('outputs'),
    export: graph.export(),
    nodeCalls,
    edgeCalls,
    tensors: graph.filterNodes(isTensor),
    labels: graph.mapNodes((key, a) => `${key}:${a.label}`),
    firstOp: graph.findNode((_, a) => a.kind === 'op') ?? null,
    someOp: graph.someNode((_, a) => a.kind === 'op'),
    allTensors: graph.everyNode(isTensor),
    inputEdges: graph.filterEdges((_, a) => a.kind === 'input'),
    perNode: graph.mapNodes((key) => ({
      has: graph.hasNode(key),
      attributes: graph.getNodeAttributes(key),
      label: graph.getNodeAttribute(key, 'label'),
      inDegree: graph.inDegree(key),
      outDegree: graph.outDegree(key),
      degree: graph.degree(key),
      inNeighbors: graph.inNeighbors(key),
      outNeighbors: graph.outNeighbors(key),
      neighbors: graph.neighbors(key),
      inEdges: graph.inEdges(key),
      outEdges: graph.outEdges(key),
      edges: graph.edges(key),
    })),
    perEdge: graph.mapEdges((key, _, source, target) => ({
      has: [graph.hasEdge(key), graph.hasEdge(source, target), graph.hasEdge(target, source)],
      ends: [graph.source(key), graph.target(key), graph.extremities(key)],
      attributes: [graph.getEdgeAttributes(key), graph.getEdgeAttributes(source, target)],
      kind: [edgeAttribute(key, 'kind'), edgeAttribute(source, target, 'kind')],
      between: graph.edges(source, target),
    })),
    missing: missing.map((key) => [graph.hasNode(key), graph.hasEdge(key)]),
  };
}

const DOT_OPTIONS: readonly DotOptions[] = [
  {},
  { clusters: 'collapsed' },
  { clusters: 'none', repeats: true, direction: 'LR' },
  { backward: 'edges', steps: true, legend: true, values: 'full', grads: true },
];

describe('TraceGraph', () => {
  it('answers every read method as graphology does for the same graph (toGraphology)', () => {
    fc.assert(fc.property(recipes, (recipe) => {
      const graph = trace(build(recipe), { gradientParts: recipe.backward });
      const graphology = graph.toGraphology();
      expect(answers(graph)).toEqual(answers(graphology));
    }), { numRuns: 150 });
  });

  it('draws the same DOT, byte for byte, from a trace and from its graphology graph', () => {
    fc.assert(fc.property(recipes, fc.constantFrom(...DOT_OPTIONS), (recipe, options) => {
      const graph = trace(build(recipe));
      expect(toDot(graph.toGraphology(), options)).toBe(toDot(graph, options));
    }), { numRuns: 100 });
  });

  it('analyzes a trace as graphology-dag does its graphology graph, and the same when handed that graph', () => {
    fc.assert(fc.property(recipes, (recipe) => {
      const graph = trace(build(recipe));
      const graphology = graph.toGraphology();
      const analysis = analyze(graph);
      expect(analysis.order).toEqual(topologicalSort(graphology));
      const isOp = (key: string) => graphology.getNodeAttribute(key, 'kind') === 'op';
      expect(analysis.depth).toBe(topologicalGenerations(graphology).filter((generation) => generation.some(isOp)).length);
      expect(analyze(graphology)).toEqual(analysis);
    }), { numRuns: 100 });
  });

  it('hands out a graphology graph whose changes leave the trace as it was', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const graph = trace(x.mul(x).sum());
    const before = graph.export();
    const graphology = graph.toGraphology();
    graphology.setNodeAttribute('t0', 'label', 'changed');
    graphology.mergeEdgeAttributes('t0->op0', { arguments: [] });
    graphology.addNode('extra', graph.getNodeAttributes('t0'));
    graphology.setAttribute('outputs', []);
    expect(graph.export()).toEqual(before);
    expect(graph.getNodeAttribute('t0', 'label')).toBe('x');
  });

  it('names the method and the key it could not find', () => {
    const graph = trace(tensor([1, 2], { requiresGrad: true }).neg());
    expect(() => graph.getNodeAttributes('t7')).toThrow('TraceGraph.getNodeAttributes: no node "t7" in this graph');
    expect(() => graph.outNeighbors('x')).toThrow('TraceGraph.outNeighbors: no node "x" in this graph');
    expect(() => graph.getEdgeAttributes('op0->t0')).toThrow('TraceGraph.getEdgeAttributes: no edge "op0->t0" in this graph');
    expect(() => graph.getEdgeAttributes('op0', 't0')).toThrow('TraceGraph.getEdgeAttributes: no edge from "op0" to "t0" in this graph');
    expect(() => graph.source('t0->t1')).toThrow('TraceGraph.source: no edge "t0->t1" in this graph');
  });
});
