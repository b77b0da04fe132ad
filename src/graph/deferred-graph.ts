import { DirectedGraph } from 'graphology';
import type { Attributes } from 'graphology-types';

/*
 * A graphology DirectedGraph whose nodes and edges are added the first time anything uses it.
 *
 * graphology spends about a microsecond on each node and edge it adds (its adjacency objects,
 * its maps, the garbage they leave), so a trace of 500,000 elements would take a second before
 * anyone looks at it. trace() keeps what it found in compact lists and hands over a function
 * that adds it all, which runs when a method or a size (`order`, `size`, ...) is first asked
 * for: the graph behaves as any DirectedGraph, and a caller that only keeps the trace pays for
 * the walk alone.
 */

// The sizes graphology defines on each instance (configurable getters), not on the prototype.
const INSTANCE_GETTERS = ['order', 'size', 'directedSize', 'undirectedSize', 'selfLoopCount', 'directedSelfLoopCount', 'undirectedSelfLoopCount'];

/** What adds the contents: graphology's own addNode and addDirectedEdgeWithKey. */
export interface GraphFiller<N extends Attributes, E extends Attributes> {
  addNode(key: string, attributes: N): void;
  addDirectedEdgeWithKey(key: string, source: string, target: string, attributes: E): void;
}

export class DeferredGraph<N extends Attributes, E extends Attributes, G extends Attributes> extends DirectedGraph<N, E, G> {
  #pending: ((graph: GraphFiller<N, E>) => void) | null;

  /** `fill` adds the nodes, then the edges; `attributes` are the graph's own. */
  constructor(attributes: G, fill: (graph: GraphFiller<N, E>) => void) {
    super();
    super.replaceAttributes(attributes);
    this.#pending = fill;
    for (const name of INSTANCE_GETTERS) {
      const size = Object.getOwnPropertyDescriptor(this, name)?.get;
      if (!size) continue;
      Object.defineProperty(this, name, {
        enumerable: true,
        configurable: true,
        get: () => {
          this.fill();
          return size.call(this);
        },
      });
    }
  }

  /** Adds the contents, once; every method calls it first. */
  fill(): void {
    const fill = this.#pending;
    if (!fill) return;
    this.#pending = null;
    // graphology's own methods (`super`), not the wrappers below: there is nothing left to fill.
    fill({
      addNode: (key, attributes) => super.addNode(key, attributes),
      addDirectedEdgeWithKey: (key, source, target, attributes) => super.addDirectedEdgeWithKey(key, source, target, attributes),
    });
  }
}

// Every graphology method (and its inspect hook) fills the graph before it runs: graphology
// defines them on DirectedGraph.prototype and its parent, Graph.prototype (not exported). So do
// the ways to listen to its events, as a listener added to an eager trace never heard it filled.
const graphPrototype = Object.getPrototypeOf(DirectedGraph.prototype) as object;
const LISTENING = new Set<string | symbol>(['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']);
for (const proto of [DirectedGraph.prototype, graphPrototype, Object.getPrototypeOf(graphPrototype) as object]) {
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || Object.prototype.hasOwnProperty.call(DeferredGraph.prototype, key)) continue;
    if (proto !== DirectedGraph.prototype && proto !== graphPrototype && !LISTENING.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    const method: unknown = descriptor.value;
    if (typeof method === 'function') {
      Object.defineProperty(DeferredGraph.prototype, key, {
        ...descriptor,
        value: function (this: DeferredGraph<Attributes, Attributes, Attributes>, ...args: unknown[]) {
          this.fill();
          return method.apply(this, args);
        },
      });
    } else if (descriptor.get) {
      const get = descriptor.get;
      Object.defineProperty(DeferredGraph.prototype, key, {
        ...descriptor,
        get(this: DeferredGraph<Attributes, Attributes, Attributes>) {
          this.fill();
          return get.call(this);
        },
      });
    }
  }
}
