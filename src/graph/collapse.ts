import { asTraceGraph, type TraceEdgeAttributes, type TraceGraph, type TraceGraphAttributes, type TraceGraphLike, type TraceNodeAttributes } from './trace.js';
import type { TraceGraph as Graph } from './trace-graph.js';
import { TraceGraphBuilder } from './trace-graph-builder.js';

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
export type PictureGraph = Graph<PictureNodeAttributes, TraceEdgeAttributes, TraceGraphAttributes>;

const pathKey = (scope: readonly string[]) => JSON.stringify(scope);

export function collapseModules(source: TraceGraphLike): PictureGraph {
  const graph = asTraceGraph('collapseModules', source);
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
  const collapsed = new TraceGraphBuilder<PictureNodeAttributes>();

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
    if (from !== to && !collapsed.hasEdge(from, to)) collapsed.addEdge(from, to, attributes);
  });
  return collapsed.build(graph.getAttributes());
}

/*
 * Repeated blocks: a run of sibling scopes with the same structure (a Sequential of identical
 * blocks) is drawn once, in a box marked ×N, as plate notation does. The first block stands for
 * all: what entered the run enters it, and what left the run leaves from it.
 */

/** The nodes under `scope` (itself or nested), in trace order. */
function nodesUnder(graph: TraceGraph, scope: readonly string[]): string[] {
  return graph.filterNodes((_, a) => a.scope.length >= scope.length && scope.every((name, i) => a.scope[i] === name));
}

/** What makes two blocks the same: each node's kind, op, label and shape, its place inside, and the edges between them. */
function signature(graph: TraceGraph, keys: readonly string[], depth: number): string {
  const index = new Map(keys.map((key, i) => [key, i]));
  const nodes = keys.map((key) => {
    const a = graph.getNodeAttributes(key);
    return a.kind === 'op' ? ['op', a.op, a.label, a.scope.slice(depth + 1)] : ['tensor', a.role === 'output' ? 'intermediate' : a.role, a.shape, a.scope.slice(depth + 1)];
  });
  const edges = keys.flatMap((key) => graph.inNeighbors(key).map((from) => [index.get(from) ?? 'outside', index.get(key)]));
  return JSON.stringify([nodes, edges]);
}

/** `Block ×3` for `block1: Block`, `block2: Block`, `block3: Block`; else the first name, ×3. */
function runLabel(names: readonly string[]): string {
  const kinds = names.map((name) => name.split(': ')[1]);
  const kind = kinds[0];
  return `${kind !== undefined && kinds.every((k) => k === kind) ? kind : names[0]} ×${names.length}`;
}

export function collapseRepeats(source: TraceGraphLike): TraceGraph {
  const graph = asTraceGraph('collapseRepeats', source);
  // Child scopes of each parent, in the order they are first met.
  const children = new Map<string, (readonly string[])[]>();
  graph.forEachNode((_, a) => {
    for (let depth = 1; depth <= a.scope.length; depth++) {
      const child = a.scope.slice(0, depth);
      const siblings = children.get(pathKey(child.slice(0, -1))) ?? [];
      if (!siblings.some((s) => pathKey(s) === pathKey(child))) siblings.push(child);
      children.set(pathKey(child.slice(0, -1)), siblings);
    }
  });
  /** For each node of a copy, the node of the first block it stands for; and the new name of each first block. */
  const standsFor = new Map<string, string>();
  const blockOf = new Map<string, number>();
  const renamed = new Map<string, { depth: number; label: string }>();
  let runCount = 0;
  for (const siblings of children.values()) {
    if (siblings.some((scope) => nodesUnder(graph, scope).some((key) => standsFor.has(key)))) continue;
    const depth = siblings[0].length - 1;
    const blocks = siblings.map((scope) => nodesUnder(graph, scope));
    const signatures = blocks.map((keys) => signature(graph, keys, depth));
    for (let start = 0; start < siblings.length;) {
      let end = start + 1;
      while (end < siblings.length && signatures[end] === signatures[start]) end++;
      if (end - start > 1) {
        const run = runCount++;
        for (let copy = start; copy < end; copy++) {
          blocks[copy].forEach((key, i) => {
            standsFor.set(key, blocks[start][i]);
            blockOf.set(key, run * 1_000_000 + copy);
          });
        }
        renamed.set(pathKey(siblings[start]), { depth, label: runLabel(siblings.slice(start, end).map((scope) => scope[depth])) });
      }
      start = end;
    }
  }
  if (standsFor.size === 0) return graph;

  const result = new TraceGraphBuilder();
  const resultOutputs = graph.getAttribute('outputs').map((key) => standsFor.get(key) ?? key);
  const rename = (scope: readonly string[]): readonly string[] => {
    for (let depth = scope.length; depth >= 1; depth--) {
      const run = renamed.get(pathKey(scope.slice(0, depth)));
      if (run) return [...scope.slice(0, run.depth), run.label, ...scope.slice(run.depth + 1)];
    }
    return scope;
  };
  const outputs = new Set(resultOutputs);
  graph.forEachNode((key, a) => {
    if ((standsFor.get(key) ?? key) !== key) return;
    // The last block's result, when returned, is drawn as the output of the one block drawn.
    const role = a.kind === 'tensor' && outputs.has(key) ? { role: 'output' as const } : {};
    result.addNode(key, { ...a, ...role, scope: rename(a.scope) });
  });
  graph.forEachEdge((_, attributes, source, target) => {
    // One block feeding the next would become a loop of the first block onto itself: dropped.
    const [from, to] = [blockOf.get(source), blockOf.get(target)];
    if (from !== undefined && to !== undefined && from !== to) return;
    const [s, t] = [standsFor.get(source) ?? source, standsFor.get(target) ?? target];
    if (!result.hasEdge(s, t)) result.addEdge(s, t, attributes);
  });
  return result.build({ outputs: resultOutputs });
}
