import { DirectedGraph } from 'graphology';
import type { TraceEdgeAttributes, TraceGraphAttributes, TraceNodeAttributes } from './trace.js';

/*
 * The graph trace() returns. Graphology spends two to three microseconds on every node or edge
 * it adds (a trace of 100,000 uses of one tensor has 500,000), so the trace keeps its own compact
 * form instead: keys and attributes in arrays, each edge's ends and every node's edges in typed
 * arrays. It answers the read-only part of graphology's API under graphology's names and with
 * its semantics (the same keys, the same order of nodes, edges and neighbours), so code written
 * against graphology keeps working; toGraphology() hands over a real graphology graph, for its
 * algorithms or to change it.
 */

/** What a graph is made of: nodes and edges numbered in insertion order, each edge's ends as node numbers. */
export interface TraceGraphParts<N, E, G> {
  readonly attributes: G;
  readonly nodeKeys: readonly string[];
  readonly nodeAttributes: readonly N[];
  readonly edgeSources: Int32Array;
  readonly edgeTargets: Int32Array;
  readonly edgeAttributes: readonly E[];
  /** By default `source->target`, as trace() keys its edges. */
  readonly edgeKeys?: readonly string[];
  /**
   * For keys as trace() hands them out, `t<i>` and `op<j>`, the node numbers of tensor i and op
   * j: a key is then found from its number, with no map of 300,000 keys to build and keep.
   */
  readonly numbered?: Numbering;
}

interface Numbering {
  readonly tensors: Int32Array;
  readonly ops: Int32Array;
}

/** The node number of a key trace() hands out, or undefined for any other string. */
function numberedNode({ tensors, ops }: Numbering, key: string): number | undefined {
  if (typeof key !== 'string') return undefined;
  let numbers: Int32Array;
  let from: number;
  if (key.charCodeAt(0) === 116) {
    [numbers, from] = [tensors, 1];
  } else if (key.charCodeAt(0) === 111 && key.charCodeAt(1) === 112) {
    [numbers, from] = [ops, 2];
  } else {
    return undefined;
  }
  // Digits, and no leading zero: `t01` and `t` are no keys of a trace.
  if (key.length === from || (key.charCodeAt(from) === 48 && key.length > from + 1)) return undefined;
  let n = 0;
  for (let i = from; i < key.length; i++) {
    const digit = key.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n < numbers.length ? numbers[n] : undefined;
}

type NodeCallback<N, R> = (node: string, attributes: N) => R;
type EdgeCallback<N, E, R> = (edge: string, attributes: E, source: string, target: string, sourceAttributes: N, targetAttributes: N, undirected: boolean) => R;

/** The nodes (or edges) of each node, grouped: those of node i are `items[start[i]]` up to `items[start[i + 1]]`, in edge order. */
interface Adjacency {
  readonly start: Int32Array;
  readonly items: Int32Array;
}

/** Groups edge numbers by one of their ends, keeping the edges' own order within each group (a counting sort). */
function adjacency(nodes: number, ends: Int32Array): Adjacency {
  const start = new Int32Array(nodes + 1);
  for (let e = 0; e < ends.length; e++) start[ends[e] + 1]++;
  for (let i = 0; i < nodes; i++) start[i + 1] += start[i];
  const next = start.slice(0, nodes);
  const items = new Int32Array(ends.length);
  for (let e = 0; e < ends.length; e++) items[next[ends[e]]++] = e;
  return { start, items };
}

export class TraceGraph<N extends object = TraceNodeAttributes, E extends object = TraceEdgeAttributes, G extends object = TraceGraphAttributes> {
  /** As graphology's DirectedGraph says of itself. */
  readonly type = 'directed';
  readonly multi = false;
  readonly allowSelfLoops = true;

  private readonly attributes: G;
  private readonly nodeKeys: readonly string[];
  private readonly nodeAttributes: readonly N[];
  /** Each key's node number, unless the keys are numbered. */
  private readonly nodeNumbers: Map<string, number> | undefined;
  private readonly numbered: Numbering | undefined;
  private readonly edgeSources: Int32Array;
  private readonly edgeTargets: Int32Array;
  private readonly edgeAttributes: readonly E[];
  /** Undefined for keys `source->target`, written when asked for. */
  private readonly edgeKeys: readonly string[] | undefined;
  /** For edge keys given: built on the first look-up of an edge by its key, as most readers walk the edges instead. */
  private edgeNumbers: Map<string, number> | undefined;
  private readonly outgoing: Adjacency;
  private readonly incoming: Adjacency;

  constructor(parts: TraceGraphParts<N, E, G>) {
    const { nodeKeys, edgeSources, edgeTargets } = parts;
    this.attributes = parts.attributes;
    this.nodeKeys = nodeKeys;
    this.nodeAttributes = parts.nodeAttributes;
    this.numbered = parts.numbered;
    if (!this.numbered) {
      this.nodeNumbers = new Map();
      for (let i = 0; i < nodeKeys.length; i++) this.nodeNumbers.set(nodeKeys[i], i);
    }
    this.edgeSources = edgeSources;
    this.edgeTargets = edgeTargets;
    this.edgeAttributes = parts.edgeAttributes;
    this.edgeKeys = parts.edgeKeys;
    this.outgoing = adjacency(nodeKeys.length, edgeSources);
    this.incoming = adjacency(nodeKeys.length, edgeTargets);
  }

  /** The number of nodes. */
  get order(): number {
    return this.nodeKeys.length;
  }

  /** The number of edges. */
  get size(): number {
    return this.edgeAttributes.length;
  }

  private lookUp(node: string): number | undefined {
    return this.numbered ? numberedNode(this.numbered, node) : this.nodeNumbers!.get(node);
  }

  private edgeKey(e: number): string {
    return this.edgeKeys ? this.edgeKeys[e] : `${this.nodeKeys[this.edgeSources[e]]}->${this.nodeKeys[this.edgeTargets[e]]}`;
  }

  private lookUpEdge(edge: string): number | undefined {
    if (this.edgeKeys) {
      this.edgeNumbers ??= new Map(this.edgeKeys.map((key, e) => [key, e]));
      return this.edgeNumbers.get(edge);
    }
    // Keys `source->target`, of nodes whose keys hold no `->`.
    const [source, target, ...more] = typeof edge === 'string' ? edge.split('->') : [];
    const [s, t] = [this.lookUp(source), this.lookUp(target)];
    if (more.length > 0 || s === undefined || t === undefined) return undefined;
    const e = this.edgeBetween(s, t);
    return e < 0 ? undefined : e;
  }

  private nodeNumber(method: string, node: string): number {
    const i = this.lookUp(node);
    if (i === undefined) throw new Error(`TraceGraph.${method}: no node ${JSON.stringify(node)} in this graph`);
    return i;
  }

  /** The edge from source to target, or -1. Reads the shorter of the two lists: a tensor used 100,000 times has one producer. */
  private edgeBetween(source: number, target: number): number {
    const { outgoing, incoming } = this;
    const outs = outgoing.start[source + 1] - outgoing.start[source];
    const ins = incoming.start[target + 1] - incoming.start[target];
    const [list, from, to, other] = outs <= ins
      ? [outgoing.items, outgoing.start[source], outgoing.start[source + 1], this.edgeTargets]
      : [incoming.items, incoming.start[target], incoming.start[target + 1], this.edgeSources];
    const wanted = outs <= ins ? target : source;
    for (let k = from; k < to; k++) if (other[list[k]] === wanted) return list[k];
    return -1;
  }

  /** An edge given by its key, or by its source and target as graphology's methods also accept. */
  private edgeNumber(method: string, edgeOrSource: string, target?: string): number {
    if (target === undefined) {
      const e = this.lookUpEdge(edgeOrSource);
      if (e === undefined) throw new Error(`TraceGraph.${method}: no edge ${JSON.stringify(edgeOrSource)} in this graph`);
      return e;
    }
    const e = this.edgeBetween(this.nodeNumber(method, edgeOrSource), this.nodeNumber(method, target));
    if (e < 0) throw new Error(`TraceGraph.${method}: no edge from ${JSON.stringify(edgeOrSource)} to ${JSON.stringify(target)} in this graph`);
    return e;
  }

  private keysOf(list: Adjacency, i: number, keys: (e: number) => string): string[] {
    const result = new Array<string>(list.start[i + 1] - list.start[i]);
    for (let k = list.start[i]; k < list.start[i + 1]; k++) result[k - list.start[i]] = keys(list.items[k]);
    return result;
  }

  hasNode(node: string): boolean {
    return this.lookUp(node) !== undefined;
  }

  hasEdge(edge: string): boolean;
  hasEdge(source: string, target: string): boolean;
  hasEdge(edgeOrSource: string, target?: string): boolean {
    if (target === undefined) return this.lookUpEdge(edgeOrSource) !== undefined;
    const [s, t] = [this.lookUp(edgeOrSource), this.lookUp(target)];
    return s !== undefined && t !== undefined && this.edgeBetween(s, t) >= 0;
  }

  /** Every node key, in insertion order. */
  nodes(): string[] {
    return this.nodeKeys.slice();
  }

  /** Every edge key; those of one node (in-edges, then out-edges); or those from source to target. */
  edges(node?: string, target?: string): string[] {
    if (node === undefined) return Array.from(this.edgeAttributes, (_, e) => this.edgeKey(e));
    if (target !== undefined) return this.hasEdge(node, target) ? [this.edgeKey(this.edgeNumber('edges', node, target))] : [];
    // A loop is among the in-edges already.
    const i = this.nodeNumber('edges', node);
    const { start, items } = this.outgoing;
    const outs: string[] = [];
    for (let k = start[i]; k < start[i + 1]; k++) if (this.edgeTargets[items[k]] !== i) outs.push(this.edgeKey(items[k]));
    return [...this.inEdges(node), ...outs];
  }

  getAttributes(): G {
    return this.attributes;
  }

  getAttribute<K extends keyof G>(name: K): G[K] {
    return this.attributes[name];
  }

  hasAttribute(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.attributes, name);
  }

  getNodeAttributes(node: string): N {
    return this.nodeAttributes[this.nodeNumber('getNodeAttributes', node)];
  }

  getNodeAttribute<K extends keyof N>(node: string, name: K): N[K] {
    return this.nodeAttributes[this.nodeNumber('getNodeAttribute', node)][name];
  }

  hasNodeAttribute(node: string, name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.nodeAttributes[this.nodeNumber('hasNodeAttribute', node)], name);
  }

  getEdgeAttributes(edge: string): E;
  getEdgeAttributes(source: string, target: string): E;
  getEdgeAttributes(edgeOrSource: string, target?: string): E {
    return this.edgeAttributes[this.edgeNumber('getEdgeAttributes', edgeOrSource, target)];
  }

  getEdgeAttribute<K extends keyof E>(edge: string, name: K): E[K];
  getEdgeAttribute<K extends keyof E>(source: string, target: string, name: K): E[K];
  getEdgeAttribute<K extends keyof E>(edgeOrSource: string, nameOrTarget: K | string, name?: K): E[K] {
    const e = name === undefined
      ? this.edgeNumber('getEdgeAttribute', edgeOrSource)
      : this.edgeNumber('getEdgeAttribute', edgeOrSource, nameOrTarget as string);
    return this.edgeAttributes[e][name ?? (nameOrTarget as K)];
  }

  source(edge: string): string {
    return this.nodeKeys[this.edgeSources[this.edgeNumber('source', edge)]];
  }

  target(edge: string): string {
    return this.nodeKeys[this.edgeTargets[this.edgeNumber('target', edge)]];
  }

  extremities(edge: string): [string, string] {
    const e = this.edgeNumber('extremities', edge);
    return [this.nodeKeys[this.edgeSources[e]], this.nodeKeys[this.edgeTargets[e]]];
  }

  inDegree(node: string): number {
    const i = this.nodeNumber('inDegree', node);
    return this.incoming.start[i + 1] - this.incoming.start[i];
  }

  outDegree(node: string): number {
    const i = this.nodeNumber('outDegree', node);
    return this.outgoing.start[i + 1] - this.outgoing.start[i];
  }

  degree(node: string): number {
    return this.inDegree(node) + this.outDegree(node);
  }

  inNeighbors(node: string): string[] {
    return this.keysOf(this.incoming, this.nodeNumber('inNeighbors', node), (e) => this.nodeKeys[this.edgeSources[e]]);
  }

  outNeighbors(node: string): string[] {
    return this.keysOf(this.outgoing, this.nodeNumber('outNeighbors', node), (e) => this.nodeKeys[this.edgeTargets[e]]);
  }

  /** In-neighbours, then the out-neighbours not among them, as graphology lists them. */
  neighbors(node: string): string[] {
    const ins = this.inNeighbors(node);
    const seen = new Set(ins);
    return [...ins, ...this.outNeighbors(node).filter((n) => !seen.has(n))];
  }

  inEdges(node: string): string[] {
    return this.keysOf(this.incoming, this.nodeNumber('inEdges', node), (e) => this.edgeKey(e));
  }

  outEdges(node: string): string[] {
    return this.keysOf(this.outgoing, this.nodeNumber('outEdges', node), (e) => this.edgeKey(e));
  }

  /** Calls back with the node at the far end of each of node i's edges in `list`; `ends` holds that end of every edge. */
  private forEachAcross(list: Adjacency, ends: Int32Array, i: number, callback: NodeCallback<N, void>): void {
    for (let k = list.start[i]; k < list.start[i + 1]; k++) {
      const n = ends[list.items[k]];
      callback(this.nodeKeys[n], this.nodeAttributes[n]);
    }
  }

  forEachInNeighbor(node: string, callback: NodeCallback<N, void>): void {
    this.forEachAcross(this.incoming, this.edgeSources, this.nodeNumber('forEachInNeighbor', node), callback);
  }

  forEachOutNeighbor(node: string, callback: NodeCallback<N, void>): void {
    this.forEachAcross(this.outgoing, this.edgeTargets, this.nodeNumber('forEachOutNeighbor', node), callback);
  }

  forEachNode(callback: NodeCallback<N, void>): void {
    for (let i = 0; i < this.nodeKeys.length; i++) callback(this.nodeKeys[i], this.nodeAttributes[i]);
  }

  /** The first node the callback says yes to, or undefined. */
  findNode(callback: NodeCallback<N, unknown>): string | undefined {
    for (let i = 0; i < this.nodeKeys.length; i++) if (callback(this.nodeKeys[i], this.nodeAttributes[i])) return this.nodeKeys[i];
    return undefined;
  }

  someNode(callback: NodeCallback<N, unknown>): boolean {
    return this.findNode(callback) !== undefined;
  }

  everyNode(callback: NodeCallback<N, unknown>): boolean {
    return this.findNode((key, a) => !callback(key, a)) === undefined;
  }

  filterNodes(callback: NodeCallback<N, unknown>): string[] {
    const kept: string[] = [];
    this.forEachNode((key, a) => {
      if (callback(key, a)) kept.push(key);
    });
    return kept;
  }

  mapNodes<R>(callback: NodeCallback<N, R>): R[] {
    const mapped = new Array<R>(this.nodeKeys.length);
    for (let i = 0; i < this.nodeKeys.length; i++) mapped[i] = callback(this.nodeKeys[i], this.nodeAttributes[i]);
    return mapped;
  }

  reduceNodes<R>(callback: (accumulator: R, node: string, attributes: N) => R, initialValue: R): R {
    let accumulator = initialValue;
    this.forEachNode((key, a) => {
      accumulator = callback(accumulator, key, a);
    });
    return accumulator;
  }

  forEachEdge(callback: EdgeCallback<N, E, void>): void {
    const { nodeKeys, nodeAttributes, edgeKeys, edgeAttributes, edgeSources, edgeTargets } = this;
    for (let e = 0; e < edgeAttributes.length; e++) {
      const [s, t] = [edgeSources[e], edgeTargets[e]];
      callback(edgeKeys ? edgeKeys[e] : `${nodeKeys[s]}->${nodeKeys[t]}`, edgeAttributes[e], nodeKeys[s], nodeKeys[t], nodeAttributes[s], nodeAttributes[t], false);
    }
  }

  /** The first edge the callback says yes to, or undefined. */
  findEdge(callback: EdgeCallback<N, E, unknown>): string | undefined {
    const { nodeKeys, nodeAttributes, edgeKeys, edgeAttributes, edgeSources, edgeTargets } = this;
    for (let e = 0; e < edgeAttributes.length; e++) {
      const [s, t] = [edgeSources[e], edgeTargets[e]];
      const key = edgeKeys ? edgeKeys[e] : `${nodeKeys[s]}->${nodeKeys[t]}`;
      if (callback(key, edgeAttributes[e], nodeKeys[s], nodeKeys[t], nodeAttributes[s], nodeAttributes[t], false)) return key;
    }
    return undefined;
  }

  someEdge(callback: EdgeCallback<N, E, unknown>): boolean {
    return this.findEdge(callback) !== undefined;
  }

  everyEdge(callback: EdgeCallback<N, E, unknown>): boolean {
    return this.findEdge((...args) => !callback(...args)) === undefined;
  }

  filterEdges(callback: EdgeCallback<N, E, unknown>): string[] {
    const kept: string[] = [];
    this.forEachEdge((...args) => {
      if (callback(...args)) kept.push(args[0]);
    });
    return kept;
  }

  mapEdges<R>(callback: EdgeCallback<N, E, R>): R[] {
    const mapped: R[] = [];
    this.forEachEdge((...args) => mapped.push(callback(...args)));
    return mapped;
  }

  /** graphology's serialized form, as its `export()` writes it (attributes copied, left out when empty). */
  export() {
    const withAttributes = <T extends object>(item: T, attributes: object) => (Object.keys(attributes).length > 0 ? { ...item, attributes: { ...attributes } } : item);
    return {
      options: { type: this.type, multi: this.multi, allowSelfLoops: this.allowSelfLoops },
      attributes: this.attributes,
      nodes: this.nodeKeys.map((key, i) => withAttributes({ key }, this.nodeAttributes[i])),
      edges: this.edgeAttributes.map((_, e) => withAttributes({ key: this.edgeKey(e), source: this.nodeKeys[this.edgeSources[e]], target: this.nodeKeys[this.edgeTargets[e]] }, this.edgeAttributes[e])),
    };
  }

  toJSON() {
    return this.export();
  }

  /**
   * The same graph as a graphology DirectedGraph, for graphology's algorithms or to change it:
   * the same keys in the same order, each node's and edge's attributes copied (one level deep),
   * so changing them there leaves this graph as traced.
   */
  toGraphology(): DirectedGraph<N, E, G> {
    const graph = new DirectedGraph<N, E, G>();
    graph.replaceAttributes({ ...this.attributes });
    this.forEachNode((key, a) => graph.addNode(key, { ...a }));
    this.forEachEdge((key, a, source, target) => graph.addDirectedEdgeWithKey(key, source, target, { ...a }));
    return graph;
  }
}
