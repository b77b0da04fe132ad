import { describe, expect, it } from 'vitest';
import { TraceGraphBuilder } from '../../src/graph/trace-graph-builder.js';

/* The builder collapse.ts and asTraceGraph make their graphs with: graphology's rules for a simple directed graph. */

type Node = { readonly label: string };
type Edge = { readonly weight: number };

describe('TraceGraphBuilder', () => {
  it('builds the graph it was given, keys and order as added, edges keyed source->target unless given a key', () => {
    const builder = new TraceGraphBuilder<Node, Edge, { readonly name: string }>();
    for (const key of ['b', 'a', 'c']) builder.addNode(key, { label: key.toUpperCase() });
    builder.addEdge('b', 'c', { weight: 1 });
    builder.addEdge('a', 'c', { weight: 2 }, 'mine');
    builder.addEdge('c', 'b', { weight: 3 });
    expect([builder.hasNode('a'), builder.hasNode('d'), builder.hasEdge('b', 'c'), builder.hasEdge('c', 'a')]).toEqual([true, false, true, false]);
    const graph = builder.build({ name: 'g' });
    expect(graph.export()).toEqual({
      options: { type: 'directed', multi: false, allowSelfLoops: true },
      attributes: { name: 'g' },
      nodes: [{ key: 'b', attributes: { label: 'B' } }, { key: 'a', attributes: { label: 'A' } }, { key: 'c', attributes: { label: 'C' } }],
      edges: [
        { key: 'b->c', source: 'b', target: 'c', attributes: { weight: 1 } },
        { key: 'mine', source: 'a', target: 'c', attributes: { weight: 2 } },
        { key: 'c->b', source: 'c', target: 'b', attributes: { weight: 3 } },
      ],
    });
    expect(graph.inNeighbors('c')).toEqual(['b', 'a']);
    expect(graph.getEdgeAttributes('mine')).toEqual({ weight: 2 });
    expect(graph.export()).toEqual(graph.toGraphology().export());
  });

  it('refuses a node twice, an edge twice, an edge key twice and an edge to a node not there, naming it', () => {
    const builder = new TraceGraphBuilder<Node, Edge, object>();
    builder.addNode('a', { label: 'A' });
    builder.addNode('b', { label: 'B' });
    builder.addEdge('a', 'b', { weight: 1 });
    expect(() => builder.addNode('a', { label: 'again' })).toThrow('TraceGraphBuilder.addNode: the node "a" is there already');
    expect(() => builder.addEdge('a', 'b', { weight: 2 }, 'other')).toThrow('TraceGraphBuilder.addEdge: an edge from "a" to "b" is there already');
    expect(() => builder.addEdge('b', 'a', { weight: 2 }, 'a->b')).toThrow('TraceGraphBuilder.addEdge: the edge key "a->b" is taken already');
    expect(() => builder.addEdge('a', 'z', { weight: 2 })).toThrow('TraceGraphBuilder.addEdge: no node "z" to join');
  });
});
