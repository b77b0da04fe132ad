import { DirectedGraph } from 'graphology';
import type { TraceEdgeAttributes, TraceGraph, TraceGraphAttributes, TraceNodeAttributes } from './trace.js';

/*
 * The collapsed view of a trace: each innermost module scope (a Linear, a BatchNorm1d) becomes
 * one node. What crosses the module's boundary stays visible: the data flowing in, the
 * parameters it owns, and the tensors used outside it or returned.
 */

export interface ModuleNodeAttributes {
  readonly kind: 'module';
  /** The module's own scope name (`bn: BatchNorm1d`). */
  readonly label: string;
  /** The scopes around it. */
  readonly scope: readonly string[];
  /** How many ops it stands for. */
  readonly ops: number;
}

export type PictureNodeAttributes = TraceNodeAttributes | ModuleNodeAttributes;
export type PictureGraph = DirectedGraph<PictureNodeAttributes, TraceEdgeAttributes, TraceGraphAttributes>;

const pathKey = (scope: readonly string[]) => JSON.stringify(scope);

export function collapseModules(graph: TraceGraph): PictureGraph {
  // Innermost scopes: those no other scope is nested in.
  const scopes = new Map<string, readonly string[]>();
  graph.forEachNode((_, a) => {
    if (a.kind === 'op' && a.scope.length > 0) scopes.set(pathKey(a.scope), a.scope);
  });
  const nested = new Set<string>();
  for (const scope of scopes.values()) {
    for (let depth = 1; depth < scope.length; depth++) nested.add(pathKey(scope.slice(0, depth)));
  }
  const moduleKeys = new Map<string, string>();
  graph.forEachNode((_, a) => {
    const path = pathKey(a.scope);
    if (a.kind === 'op' && scopes.has(path) && !nested.has(path) && !moduleKeys.has(path)) moduleKeys.set(path, `m${moduleKeys.size}`);
  });
  const outputs = new Set(graph.getAttribute('outputs'));
  const collapsed = new DirectedGraph() as PictureGraph;
  collapsed.replaceAttributes(graph.getAttributes());

  /** The module key a node disappears into, or null when it stays visible. */
  const hiddenIn = (key: string): string | null => {
    const a = graph.getNodeAttributes(key);
    const path = pathKey(a.scope);
    const module = moduleKeys.get(path);
    if (module === undefined) return null;
    if (a.kind === 'op') return module;
    // A tensor stays when it leaves the module: a leaf it owns, a result used outside or returned.
    const usedOutside = graph.outNeighbors(key).some((user) => pathKey(graph.getNodeAttribute(user, 'scope')) !== path);
    return graph.inDegree(key) === 0 || usedOutside || outputs.has(key) ? null : module;
  };

  const representative = new Map<string, string>();
  graph.forEachNode((key, a) => {
    const path = pathKey(a.scope);
    const module = hiddenIn(key);
    if (module !== null) {
      representative.set(key, module);
      if (!collapsed.hasNode(module)) {
        const ops = graph.filterNodes((_, b) => b.kind === 'op' && pathKey(b.scope) === path).length;
        collapsed.addNode(module, { kind: 'module', label: a.scope[a.scope.length - 1], scope: a.scope.slice(0, -1), ops });
      }
    } else {
      representative.set(key, key);
      // A visible tensor of a collapsed module is drawn beside the module node, not inside it.
      const scope = moduleKeys.has(path) ? a.scope.slice(0, -1) : a.scope;
      collapsed.addNode(key, { ...a, scope });
    }
  });
  graph.forEachEdge((_, attributes, source, target) => {
    const from = representative.get(source)!;
    const to = representative.get(target)!;
    if (from !== to && !collapsed.hasEdge(from, to)) collapsed.addDirectedEdgeWithKey(`${from}->${to}`, from, to, attributes);
  });
  return collapsed;
}
