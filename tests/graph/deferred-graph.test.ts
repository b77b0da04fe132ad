import { describe, expect, it } from 'vitest';
import { DirectedGraph } from 'graphology';
import { DeferredGraph, type GraphFiller } from '../../src/graph/deferred-graph.js';

type Attributes = { label: string };

/** A graph a→b→c, filled on first use, and how many times its filler ran. */
function deferred() {
  const calls = { count: 0 };
  const graph = new DeferredGraph<Attributes, Attributes, { name: string }>({ name: 'abc' }, (add: GraphFiller<Attributes, Attributes>) => {
    calls.count++;
    for (const key of ['a', 'b', 'c']) add.addNode(key, { label: key.toUpperCase() });
    add.addDirectedEdgeWithKey('a->b', 'a', 'b', { label: 'first' });
    add.addDirectedEdgeWithKey('b->c', 'b', 'c', { label: 'second' });
  });
  return { graph, calls };
}

function eager(): DirectedGraph<Attributes, Attributes, { name: string }> {
  const graph = new DirectedGraph<Attributes, Attributes, { name: string }>();
  graph.replaceAttributes({ name: 'abc' });
  for (const key of ['a', 'b', 'c']) graph.addNode(key, { label: key.toUpperCase() });
  graph.addDirectedEdgeWithKey('a->b', 'a', 'b', { label: 'first' });
  graph.addDirectedEdgeWithKey('b->c', 'b', 'c', { label: 'second' });
  return graph;
}

describe('DeferredGraph', () => {
  it('adds its contents only when first used, and only once', () => {
    const { graph, calls } = deferred();
    expect(graph).toBeInstanceOf(DirectedGraph);
    expect(typeof graph.forEachNode).toBe('function');
    expect(calls.count).toBe(0);
    expect(graph.getAttribute('name')).toBe('abc');
    expect(calls.count).toBe(1);
    expect(graph.order).toBe(3);
    expect(graph.outNeighbors('a')).toEqual(['b']);
    expect(calls.count).toBe(1);
  });

  it('fills before a size is read, as sizes live on the instance', () => {
    for (const [name, expected] of [['order', 3], ['size', 2], ['directedSize', 2], ['selfLoopCount', 0]] as const) {
      const { graph, calls } = deferred();
      expect(calls.count).toBe(0);
      expect(graph[name]).toBe(expected);
      expect(calls.count).toBe(1);
    }
  });

  it('reads, iterates, exports and copies like the same graph built eagerly', () => {
    const { graph } = deferred();
    const reference = eager();
    expect(graph.export()).toEqual(reference.export());
    expect([...deferred().graph.nodes()]).toEqual(reference.nodes());
    expect(deferred().graph.copy().export()).toEqual(reference.export());
    const edges: string[] = [];
    deferred().graph.forEachEdge((key, attributes) => edges.push(`${key}:${attributes.label}`));
    expect(edges).toEqual(['a->b:first', 'b->c:second']);
  });

  it('tells a listener of what happens after it listens, not of the filling', () => {
    const { graph, calls } = deferred();
    const added: string[] = [];
    graph.on('nodeAdded', ({ key }) => added.push(key));
    expect(calls.count).toBe(1);
    graph.addNode('d', { label: 'D' });
    expect(added).toEqual(['d']);
  });

  it('takes changes after it is filled, in the order graphology keeps', () => {
    const { graph } = deferred();
    graph.addNode('d', { label: 'D' });
    graph.addDirectedEdgeWithKey('c->d', 'c', 'd', { label: 'third' });
    expect(graph.nodes()).toEqual(['a', 'b', 'c', 'd']);
    expect(graph.edges()).toEqual(['a->b', 'b->c', 'c->d']);
    expect(() => graph.addNode('a', { label: 'again' })).toThrow('already exist');
  });
});
