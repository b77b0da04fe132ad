import type { Tensor } from '../tensor/tensor.js';
import { collapseModules, type PictureGraph, type PictureNodeAttributes } from './collapse.js';
import { describeValues, formatConstant, formatDims, gradientName, type ValuesMode } from './labels.js';
import { isTensor, trace, type TensorNodeAttributes, type TraceGraph } from './trace.js';

/*
 * Graphviz DOT from a trace. Only DOT that every renderer we test reads the same way: quoted
 * plain-text labels with `\n` line breaks, box/ellipse/box3d shapes, filled/rounded/dashed
 * styles and `cluster_*` subgraphs. No HTML-like labels: graphviz-cli drops them silently.
 *
 * The writer reads the trace in its own order and nothing else, so the same graph always gives
 * the same bytes.
 */

export interface DotOptions {
  /** `TB`: inputs at the top (default); `LR`: inputs on the left. */
  direction?: 'TB' | 'LR';
  /** What to show of each tensor's values. */
  values?: ValuesMode;
  /** Show each tensor's `.grad` beside its value (after a backward pass with `retainGrads`). */
  grads?: boolean;
  /** Module scopes as boxes (`expanded`, the default), as one node each (`collapsed`), or not at all. */
  clusters?: 'expanded' | 'collapsed' | 'none';
  /**
   * The gradient flow. `edges`: a dashed edge for what each op passes back to each input.
   * `recorded`: the backward graph a `createGraph` backward pass recorded, in its own colours.
   */
  backward?: 'none' | 'edges' | 'recorded';
  /** `steps`: ops show their labels (BN's step names); `primitives`: the primitive op and its settings. */
  view?: 'steps' | 'primitives';
  /** Letters for sizes: `{ N: 4, D: 3 }` writes shapes as `N×D`. */
  dims?: Readonly<Record<string, number>>;
  /** A caption at the top; with `dims`, a second line says what the letters stand for. */
  title?: string;
}

/** The font the layout measures text in and the PNG rasteriser draws with (see render.ts). */
export const FONT = 'DejaVu Sans';

const COLORS = {
  op: { fill: '#dce8f7', line: '#3d6699' },
  backwardOp: { fill: '#fbe1dc', line: '#b04a32' },
  input: { fill: '#d9f0d3', line: '#3f7f33' },
  parameter: { fill: '#ffd866', line: '#9a6a00' },
  intermediate: { fill: '#ffffff', line: '#666666' },
  output: { fill: '#c9dcff', line: '#2f5597' },
  constant: { fill: '#f2f2f2', line: '#999999' },
  backwardTensor: { fill: '#fff4f1', line: '#b04a32' },
  module: { fill: '#eeeeee', line: '#555555' },
  gradient: '#c0392b',
  cluster: '#8a8a8a',
} as const;

/**
 * A DOT double-quoted string that Graphviz shows as exactly `text`: backslashes and quotes
 * escaped, `&` written as an entity (Graphviz decodes entities in plain labels too), line breaks
 * as Graphviz's `\n`, and characters no SVG may contain (control characters, lone surrogates)
 * replaced by visible stand-ins. The text Graphviz draws is `text`'s lines, empty ones excepted.
 */
export function quote(text: string): string {
  const escaped = text
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/\r\n?/g, '\n')
    // Graphviz 16 in WebAssembly traps on a node label whose first line is empty (once anything
    // has been rendered before it). An empty line draws nothing, so leading breaks are dropped.
    .replace(/^\n+/, '')
    // Control Pictures (U+2400 block) show a control character as a symbol: ␀, ␉, ␡.
    .replace(/[\u0000-\u0009\u000B-\u001F]/g, (c) => String.fromCharCode(0x2400 + c.charCodeAt(0)))
    .replace(/\u007F/g, '\u2421')
    .replace(/[\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/&/g, '&amp;')
    .replace(/\n/g, '\\n');
  return `"${escaped}"`;
}

type Attributes = Readonly<Record<string, string | number | undefined>>;

function attributeList(attributes: Attributes): string {
  const parts = Object.entries(attributes)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${typeof value === 'number' ? value : quote(value)}`);
  return parts.length === 0 ? '' : ` [${parts.join(', ')}]`;
}

interface ResolvedOptions {
  direction: 'TB' | 'LR';
  values: ValuesMode;
  grads: boolean;
  clusters: 'expanded' | 'collapsed' | 'none';
  backward: 'none' | 'edges' | 'recorded';
  view: 'steps' | 'primitives';
  dims: Readonly<Record<string, number>>;
  title: string | undefined;
}

function choice<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new Error(`toDot: option ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

function resolve(options: DotOptions): ResolvedOptions {
  return {
    direction: choice('direction', options.direction, ['TB', 'LR'], 'TB'),
    values: choice('values', options.values, ['none', 'summary', 'full'], 'none'),
    grads: options.grads ?? false,
    clusters: choice('clusters', options.clusters, ['expanded', 'collapsed', 'none'], 'expanded'),
    backward: choice('backward', options.backward, ['none', 'edges', 'recorded'], 'none'),
    view: choice('view', options.view, ['steps', 'primitives'], 'steps'),
    dims: options.dims ?? {},
    title: options.title,
  };
}

function tensorNode(a: TensorNodeAttributes, graph: PictureGraph, o: ResolvedOptions): Attributes {
  const shape = formatDims(a.shape, o.dims);
  let lines: string[];
  if (a.role === 'constant') {
    const value = a.value.values?.[0];
    const text = value === undefined ? '' : formatConstant(value);
    lines = [a.name === null ? text : `${a.name} = ${text}`];
  } else {
    const gradientOf = a.gradientOf === null ? null : graph.getNodeAttribute(a.gradientOf, 'label');
    lines = [gradientOf === null ? a.label : gradientName(gradientOf), shape, ...describeValues(a.value, a.shape, o.values)];
    if (o.grads && a.grad !== null) lines.push(...describeValues(a.grad, a.shape, o.values === 'none' ? 'summary' : o.values, '∇ '));
  }
  const colors = a.phase === 'backward' ? COLORS.backwardTensor : COLORS[a.role];
  const style = a.role === 'constant' ? 'filled,rounded,dashed'
    : a.phase === 'backward' ? 'filled,rounded,dashed'
    // Parameters have square corners and a heavy border as well as their colour.
    : a.role === 'parameter' ? 'filled,bold'
    : a.role === 'output' ? 'filled,rounded,bold' : 'filled,rounded';
  return {
    shape: 'box',
    style,
    fillcolor: colors.fill,
    color: colors.line,
    fontsize: a.role === 'constant' ? 9 : undefined,
    label: lines.join('\n'),
  };
}

function nodeAttributes(a: PictureNodeAttributes, graph: PictureGraph, o: ResolvedOptions): Attributes {
  if (a.kind === 'tensor') return tensorNode(a, graph, o);
  if (a.kind === 'module') {
    return { shape: 'box3d', style: 'filled', fillcolor: COLORS.module.fill, color: COLORS.module.line, label: `${a.label}\n${a.ops} ${a.ops === 1 ? 'op' : 'ops'}` };
  }
  const colors = a.phase === 'backward' ? COLORS.backwardOp : COLORS.op;
  const lines = o.view === 'primitives'
    ? [a.detail === '' ? a.op : `${a.op} ${a.detail}`, ...(a.label === a.op ? [] : [`(${a.label})`])]
    : [a.label];
  return { shape: 'ellipse', style: 'filled', fillcolor: colors.fill, color: colors.line, label: lines.join('\n') };
}

/**
 * The node statements, each inside the `cluster_*` subgraphs of its scope. Scopes open in the
 * order they are first met; the nesting is written with an explicit stack of open scopes.
 */
function nodeStatements(graph: PictureGraph, o: ResolvedOptions): string[] {
  const useClusters = o.clusters !== 'none';
  // Group nodes by scope path, keeping the order in which each path is first met.
  const groups = new Map<string, { scope: readonly string[]; keys: string[] }>();
  const ensure = (scope: readonly string[]) => {
    const id = JSON.stringify(scope);
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { scope, keys: [] }));
    return group;
  };
  graph.forEachNode((key, a) => {
    const scope = useClusters ? a.scope : [];
    // Every enclosing scope gets its place too, so an outer box opens before its inner ones.
    for (let depth = 0; depth < scope.length; depth++) ensure(scope.slice(0, depth));
    ensure(scope).keys.push(key);
  });
  // Sorting scope paths by their first-met order, parents before children, keeps siblings apart.
  const ordered = [...groups.values()];
  const rank = new Map(ordered.map((group, i) => [JSON.stringify(group.scope), i]));
  const sortKey = (scope: readonly string[]) => scope.map((_, depth) => rank.get(JSON.stringify(scope.slice(0, depth + 1)))!);
  ordered.sort((a, b) => {
    const ka = sortKey(a.scope);
    const kb = sortKey(b.scope);
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return ka.length - kb.length;
  });

  const lines: string[] = [];
  const open: string[] = [];
  let clusterCount = 0;
  for (const { scope, keys } of ordered) {
    // Close the open scopes that are not a prefix of this one, then open the rest.
    while (open.length > 0 && (open.length > scope.length || open[open.length - 1] !== scope[open.length - 1])) {
      open.pop();
      lines.push(`${'  '.repeat(open.length + 1)}}`);
    }
    while (open.length < scope.length) {
      const name = scope[open.length];
      const indent = '  '.repeat(open.length + 1);
      lines.push(`${indent}subgraph ${quote(`cluster_${clusterCount++}`)} {`);
      lines.push(`${indent}  graph${attributeList({ label: name, style: 'rounded,dashed', color: COLORS.cluster, fontcolor: '#444444', labeljust: 'l' })};`);
      open.push(name);
    }
    const indent = '  '.repeat(open.length + 1);
    for (const key of keys) lines.push(`${indent}${quote(key)}${attributeList(nodeAttributes(graph.getNodeAttributes(key), graph, o))};`);
  }
  while (open.length > 0) {
    open.pop();
    lines.push(`${'  '.repeat(open.length + 1)}}`);
  }
  return lines;
}

function edgeStatements(graph: PictureGraph, o: ResolvedOptions): string[] {
  const lines: string[] = [];
  const isBackward = (key: string) => {
    const a = graph.getNodeAttributes(key);
    return a.kind !== 'module' && a.phase === 'backward';
  };
  graph.forEachEdge((_, attributes, source, target) => {
    // One edge carries every argument a tensor is passed as: `x * x` is one edge `a, b`.
    const label = attributes.arguments.length > 1 ? attributes.arguments.join(', ') : undefined;
    const color = isBackward(source) || isBackward(target) ? COLORS.backwardOp.line : undefined;
    lines.push(`  ${quote(source)} -> ${quote(target)}${attributeList({ label, color })};`);
  });

  if (o.backward === 'edges') {
    // What each op passes back to each input that needs a gradient, drawn alongside the forward
    // edge (dir=back) so the layout stays that of the forward graph.
    graph.forEachEdge((_, attributes, source, target) => {
      const input = graph.getNodeAttributes(source);
      if (attributes.kind !== 'input' || input.kind !== 'tensor' || !input.requiresGrad) return;
      // A tensor used by several ops gets the sum of what they pass back: each edge is a part.
      const name = gradientName(input.label);
      const label = graph.outDegree(source) > 1 ? `part of ${name}` : name;
      lines.push(`  ${quote(source)} -> ${quote(target)}${attributeList({ dir: 'back', style: 'dashed', color: COLORS.gradient, fontcolor: COLORS.gradient, label })};`);
    });
    for (const key of graph.getAttribute('outputs')) {
      const output = graph.getNodeAttributes(key);
      if (output.kind !== 'tensor' || !output.requiresGrad) continue;
      const seed = `${key}_upstream`;
      lines.push(`  ${quote(seed)}${attributeList({ shape: 'plaintext', fontcolor: COLORS.gradient, label: `${gradientName(output.label)}\n(upstream)` })};`);
      lines.push(`  ${quote(key)} -> ${quote(seed)}${attributeList({ dir: 'back', style: 'dashed', color: COLORS.gradient })};`);
    }
  }
  if (o.backward === 'recorded') {
    // Tie each recorded gradient to its tensor, without letting the tie move the layout.
    graph.forEachNode((key, a) => {
      if (a.kind !== 'tensor' || a.gradientOf === null) return;
      lines.push(`  ${quote(a.gradientOf)} -> ${quote(key)}${attributeList({ dir: 'back', style: 'dotted', color: COLORS.gradient, constraint: 'false' })};`);
    });
  }
  return lines;
}

function isTraceGraph(source: unknown): source is TraceGraph {
  return typeof source === 'object' && source !== null && !Array.isArray(source) && !isTensor(source)
    && typeof (source as TraceGraph).forEachNode === 'function';
}

/**
 * Graphviz DOT for the graph that computed `outputs`, or for an existing trace. Deterministic:
 * the same graph and options give byte-identical text.
 */
export function toDot(source: Tensor | readonly Tensor[] | TraceGraph, options: DotOptions = {}): string {
  const o = resolve(options);
  const traced = isTraceGraph(source) ? source : trace(source, { recordedBackward: o.backward === 'recorded' });
  const graph: PictureGraph = o.clusters === 'collapsed' ? collapseModules(traced) : (traced as PictureGraph);
  // The caption says what the letters in the shapes stand for.
  const legend = Object.entries(o.dims).map(([symbol, size]) => `${symbol} = ${size}`).join(', ');
  const caption = o.title === undefined ? undefined : legend === '' ? o.title : `${o.title}\n${legend}`;
  const header = [
    'digraph "gradgraph" {',
    `  graph${attributeList({ rankdir: o.direction, fontname: FONT, fontsize: 12, nodesep: 0.3, ranksep: 0.35, label: caption, labelloc: caption === undefined ? undefined : 't' })};`,
    `  node${attributeList({ fontname: FONT, fontsize: 11, margin: '0.12,0.06' })};`,
    `  edge${attributeList({ fontname: FONT, fontsize: 9, color: '#555555', arrowsize: 0.7 })};`,
  ];
  return [...header, ...nodeStatements(graph, o), ...edgeStatements(graph, o), '}', ''].join('\n');
}
