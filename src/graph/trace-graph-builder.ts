import { TraceGraph } from './trace-graph.js';
import type { TraceEdgeAttributes, TraceGraphAttributes, TraceNodeAttributes } from './trace.js';

/**
 * Builds a TraceGraph node by node and edge by edge, for graphs made from another (the
 * collapsed pictures, a graph handed in from graphology). Edges are keyed `source->target`
 * unless given a key; at most one edge joins two nodes each way.
 */
export class TraceGraphBuilder<N extends object = TraceNodeAttributes, E extends object = TraceEdgeAttributes, G extends object = TraceGraphAttributes> {
  private readonly nodeKeys: string[] = [];
  private readonly nodeAttributes: N[] = [];
  private readonly nodeNumbers = new Map<string, number>();
  private readonly edgeSources: number[] = [];
  private readonly edgeTargets: number[] = [];
  private readonly edgeAttributes: E[] = [];
  private readonly edgeKeys: string[] = [];
  private readonly usedEdgeKeys = new Set<string>();
  /** `source,target` as node numbers, for every edge. */
  private readonly joined = new Set<string>();

  hasNode(key: string): boolean {
    return this.nodeNumbers.has(key);
  }

  addNode(key: string, attributes: N): void {
    if (this.nodeNumbers.has(key)) throw new Error(`TraceGraphBuilder.addNode: the node ${JSON.stringify(key)} is there already`);
    this.nodeNumbers.set(key, this.nodeKeys.length);
    this.nodeKeys.push(key);
    this.nodeAttributes.push(attributes);
  }

  private nodeNumber(key: string): number {
    const i = this.nodeNumbers.get(key);
    if (i === undefined) throw new Error(`TraceGraphBuilder.addEdge: no node ${JSON.stringify(key)} to join`);
    return i;
  }

  hasEdge(source: string, target: string): boolean {
    const [s, t] = [this.nodeNumbers.get(source), this.nodeNumbers.get(target)];
    return s !== undefined && t !== undefined && this.joined.has(`${s},${t}`);
  }

  addEdge(source: string, target: string, attributes: E, key = `${source}->${target}`): void {
    const [s, t] = [this.nodeNumber(source), this.nodeNumber(target)];
    if (this.joined.has(`${s},${t}`)) throw new Error(`TraceGraphBuilder.addEdge: an edge from ${JSON.stringify(source)} to ${JSON.stringify(target)} is there already`);
    if (this.usedEdgeKeys.has(key)) throw new Error(`TraceGraphBuilder.addEdge: the edge key ${JSON.stringify(key)} is taken already`);
    this.joined.add(`${s},${t}`);
    this.usedEdgeKeys.add(key);
    this.edgeSources.push(s);
    this.edgeTargets.push(t);
    this.edgeAttributes.push(attributes);
    this.edgeKeys.push(key);
  }

  build(attributes: G): TraceGraph<N, E, G> {
    return new TraceGraph({
      attributes,
      nodeKeys: this.nodeKeys.slice(),
      nodeAttributes: this.nodeAttributes.slice(),
      edgeSources: Int32Array.from(this.edgeSources),
      edgeTargets: Int32Array.from(this.edgeTargets),
      edgeAttributes: this.edgeAttributes.slice(),
      edgeKeys: this.edgeKeys.slice(),
    });
  }
}
