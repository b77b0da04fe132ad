import type { Tensor } from '../tensor/tensor.js';
import { collapseModules, collapseRepeats, type PictureGraph, type PictureNodeAttributes } from './collapse.js';
import { describeValues, formatConstant, formatDims, type ValuesMode } from './labels.js';
import { gradientName } from './formulas.js';
import { legendStatements } from './legend.js';
import { attributeList, COLORS, FONT, opLook, quote, tensorLook, type Attributes } from './style.js';
import { asTraceGraph, isTensor, isTraceGraph, trace, type TensorNodeAttributes, type TraceEdgeAttributes, type TraceGraph, type TraceGraphLike } from './trace.js';

export { FONT, quote } from './style.js';
import type { OpGradientCheck } from '../checking/op-check.js';
import { checkOptions, describeValue, expectBoolean, expectInteger } from '../validate.js';
import { CHECK_COLORS, checkMarks, type CheckMark } from './check-marks.js';

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
  /**
   * Show each tensor's `.grad` beside its value (after a backward pass with `retainGrads`):
   * `true` as much of it as `values` shows of the value (a summary when values are not shown),
   * or `'summary'` / `'full'` to say which.
   */
  grads?: boolean | 'summary' | 'full';
  /** Module scopes as boxes (`expanded`, the default), as one node each (`collapsed`), or not at all. */
  clusters?: 'expanded' | 'collapsed' | 'none';
  /** Draw a run of identical sibling blocks (a Sequential of the same block) once, in a box marked ×N. */
  repeats?: boolean;
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
  /** Number the op nodes in forward order, and the gradient edges in the order the backward pass runs. */
  steps?: boolean;
  /** A key to the picture: what each colour, shape and kind of edge stands for. */
  legend?: boolean;
  /**
   * What the upstream gradient ∂L/∂y of a non-scalar output was (`random, seed 1000`), said in
   * the caption and beside the output; unset, it is called `(upstream)`. A scalar output is the
   * loss itself and says `∂L/∂L = 1`.
   */
  upstream?: string;
  /**
   * Fit a slide: the drawing is scaled, up or down, to fit this many pixels (at 96 per inch, as
   * browsers show SVG) keeping its aspect; `{ width: 1920, height: 1080 }`. A wide box suits
   * `direction: 'LR'`.
   */
  fit?: { readonly width: number; readonly height: number };
  /**
   * The checks of each op's own gradient (`checkRecordedOps` on the same outputs): each op node
   * is coloured pass, fail or kink, with its worst error in the label, and a culprit gets a
   * heavy border.
   */
  checks?: readonly OpGradientCheck[];
}

export interface ResolvedOptions {
  direction: 'TB' | 'LR';
  values: ValuesMode;
  /** What to show of each `.grad`: `none` draws none. */
  grads: ValuesMode;
  clusters: 'expanded' | 'collapsed' | 'none';
  backward: 'none' | 'edges' | 'recorded';
  view: 'steps' | 'primitives';
  dims: Readonly<Record<string, number>>;
  title: string | undefined;
  repeats: boolean;
  steps: boolean;
  legend: boolean;
  upstream: string | undefined;
  fit: { readonly width: number; readonly height: number } | undefined;
  marks: ReadonlyMap<string, CheckMark>;
}

function choice<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new Error(`toDot: option ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

const DOT_OPTION_NAMES = ['direction', 'values', 'grads', 'clusters', 'repeats', 'backward', 'view', 'dims', 'title', 'steps', 'legend', 'upstream', 'fit', 'checks'] as const;

function gradsMode(grads: unknown, values: ValuesMode): ValuesMode {
  if (grads === 'summary' || grads === 'full') return grads;
  if (grads !== undefined && typeof grads !== 'boolean') throw new Error(`toDot: option grads must be true, false, 'summary' or 'full', got ${describeValue(grads)}`);
  if (grads !== true) return 'none';
  return values === 'none' ? 'summary' : values;
}

function optionalBoolean(name: string, value: unknown): boolean {
  return value === undefined ? false : expectBoolean('toDot', `option ${name}`, value);
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new Error(`toDot: option ${name} must be a string, got ${describeValue(value)}`);
  return value;
}

function checkDims(dims: unknown): Readonly<Record<string, number>> {
  if (dims === undefined) return {};
  if (dims === null || typeof dims !== 'object' || Array.isArray(dims)) throw new Error(`toDot: option dims must be an object of sizes ({ N: 4 }), got ${describeValue(dims)}`);
  for (const [letter, size] of Object.entries(dims)) expectInteger('toDot', `dims.${letter}`, size, { min: 1 });
  return dims as Record<string, number>;
}

function resolve(given: DotOptions): ResolvedOptions {
  const options = checkOptions('toDot', given, [...DOT_OPTION_NAMES]);
  const values = choice('values', options.values, ['none', 'summary', 'full'], 'none');
  return {
    direction: choice('direction', options.direction, ['TB', 'LR'], 'TB'),
    values,
    grads: gradsMode(options.grads, values),
    clusters: choice('clusters', options.clusters, ['expanded', 'collapsed', 'none'], 'expanded'),
    backward: choice('backward', options.backward, ['none', 'edges', 'recorded'], 'none'),
    view: choice('view', options.view, ['steps', 'primitives'], 'steps'),
    dims: checkDims(options.dims),
    title: optionalString('title', options.title),
    repeats: optionalBoolean('repeats', options.repeats),
    steps: optionalBoolean('steps', options.steps),
    legend: optionalBoolean('legend', options.legend),
    upstream: optionalString('upstream', options.upstream),
    fit: checkFit(options.fit),
    marks: options.checks === undefined ? new Map() : checkMarks(options.checks),
  };
}

function checkFit(fit: DotOptions['fit']): ResolvedOptions['fit'] {
  if (fit === undefined) return undefined;
  const valid = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 16;
  if (typeof fit !== 'object' || fit === null || !valid(fit.width) || !valid(fit.height)) {
    throw new Error(`toDot: option fit must be { width, height } in pixels, each at least 16, got ${JSON.stringify(fit)}`);
  }
  return fit;
}

/**
 * The parts a tensor's gradient is the sum of, one per step that uses it, in backward order:
 * `(7) + (8)` (the numbers of their gradient edges) when the steps are numbered, else `sum of 2 parts`.
 */
function gradientParts(graph: PictureGraph, key: string, numbered: boolean): string[] {
  const users = graph.outNeighbors(key).map((user) => graph.getNodeAttributes(user));
  const numbers = users.map((user) => (user.kind === 'op' ? user.backwardStep : null));
  if (numbered && numbers.every((n): n is number => n !== null)) return numbers.sort((a, b) => a - b).map((n) => `(${n})`);
  return [`sum of ${users.length} parts`];
}

function tensorNode(key: string, a: TensorNodeAttributes, graph: PictureGraph, o: ResolvedOptions): Attributes {
  const shape = formatDims(a.shape, o.dims);
  let lines: string[];
  if (a.role === 'constant') {
    const value = a.value.values?.[0];
    const text = value === undefined ? '' : formatConstant(value);
    lines = [a.name === null ? text : `${a.name} = ${text}`];
  } else {
    const gradientOf = a.gradientOf === null ? null : graph.getNodeAttribute(a.gradientOf, 'label');
    lines = [gradientOf === null ? a.label : gradientName(gradientOf), shape, ...describeValues(a.value, a.shape, o.values)];
    if (o.grads !== 'none' && a.grad !== null) lines.push(...describeValues(a.grad, a.shape, o.grads, '∇ '));
    const parts = o.backward === 'edges' && a.requiresGrad ? gradientParts(graph, key, o.steps) : [];
    if (graph.outDegree(key) > 1 && parts.length > 0) lines.push(`${gradientName(a.label)} = ${parts.join(' + ')}`);
  }
  return {
    ...tensorLook(a.role, a.phase),
    label: lines.join('\n'),
  };
}

function nodeAttributes(key: string, a: PictureNodeAttributes, graph: PictureGraph, o: ResolvedOptions): Attributes {
  if (a.kind === 'tensor') return tensorNode(key, a, graph, o);
  if (a.kind === 'module') {
    return { shape: 'box3d', style: 'filled', fillcolor: COLORS.module.fill, color: COLORS.module.line, label: `${a.label}\n${a.ops} ${a.ops === 1 ? 'op' : 'ops'}` };
  }
  const lines = o.view === 'primitives'
    ? [a.detail === '' ? a.op : `${a.op} ${a.detail}`, ...(a.label === a.op ? [] : [`(${a.label})`])]
    : [a.label];
  if (o.steps) lines[0] = `${a.step}. ${lines[0]}`;
  const mark = o.marks.get(key);
  if (mark === undefined) return { ...opLook(a.phase), label: lines.join('\n') };
  const checked = CHECK_COLORS[mark.status];
  const culprit = mark.status === 'fail';
  return { ...opLook(a.phase), style: culprit ? 'filled,bold' : 'filled', fillcolor: checked.fill, color: checked.line, penwidth: culprit ? 3 : undefined, label: [...lines, ...mark.lines].join('\n') };
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
    for (const key of keys) lines.push(`${indent}${quote(key)}${attributeList(nodeAttributes(key, graph.getNodeAttributes(key), graph, o))};`);
    if (o.direction === 'LR') lines.push(...stackedResults(graph, keys, indent));
  }
  while (open.length > 0) {
    open.pop();
    lines.push(`${'  '.repeat(open.length + 1)}}`);
  }
  return lines;
}

/**
 * Left to right, each op's result stands under the op, in its column, rather than in a column of
 * its own: half as many columns, so a chain of steps (and the formulas between them) fits a
 * slide's width. Declared inside the op's box, where both nodes are.
 */
function stackedResults(graph: PictureGraph, keys: readonly string[], indent: string): string[] {
  const here = new Set(keys);
  return keys.flatMap((key) => {
    if (graph.getNodeAttribute(key, 'kind') !== 'op') return [];
    const results = graph.outNeighbors(key).filter((result) => here.has(result));
    return results.length === 1 ? [`${indent}{ rank="same"; ${quote(key)}; ${quote(results[0])}; }`] : [];
  });
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
      const label = backwardEdgeLabel(graph, source, target, attributes, o);
      lines.push(`  ${quote(source)} -> ${quote(target)}${attributeList({ dir: 'back', style: 'dashed', color: COLORS.gradient, fontcolor: COLORS.gradient, label })};`);
    });
    for (const key of graph.getAttribute('outputs')) {
      const output = graph.getNodeAttributes(key);
      if (output.kind !== 'tensor' || !output.requiresGrad) continue;
      const seed = `${key}_upstream`;
      lines.push(`  ${quote(seed)}${attributeList({ shape: 'plaintext', fontcolor: COLORS.gradient, label: upstreamLabel(output, o) })};`);
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

/** Longer labels break after the `=`, so an edge label stays narrow. */
const LABEL_LINE = 30;

/**
 * `3. ∂L/∂σ = −Σₙ ∂L/∂x̂ · (x − μ) / σ²`: the backward step, the input's gradient and the local
 * gradient in the forward tensors' names. A tensor used by several steps gathers a part from
 * each, written `+=`. Into a collapsed module there is no formula, only the name.
 */
function backwardEdgeLabel(graph: PictureGraph, source: string, target: string, edge: TraceEdgeAttributes, o: ResolvedOptions): string {
  const input = graph.getNodeAttributes(source);
  const op = graph.getNodeAttributes(target);
  const name = gradientName(input.label);
  const isPart = graph.outDegree(source) > 1;
  if (op.kind !== 'op') return isPart ? `part of ${name}` : name;
  const number = o.steps && op.backwardStep !== null ? `(${op.backwardStep}) ` : '';
  const left = `${number}${name} ${isPart ? '+=' : '='}`;
  const right = edge.positions.map((i) => op.formulas[i]).join(' + ');
  // Left to right, a label's width spreads the ranks apart while its height costs little.
  if (o.direction === 'LR') return [left, ...wrap(right, LABEL_LINE_LR)].join('\n');
  return left.length + right.length + 1 > LABEL_LINE ? `${left}\n${right}` : `${left} ${right}`;
}

/** Left to right, formula lines are kept this short. */
const LABEL_LINE_LR = 16;

/**
 * Lines of at most `width` characters where it can, broken only at spaces outside parentheses,
 * and before an operator rather than after it: `· (x − μ)` starts a line, no line ends in `·`.
 */
function wrap(text: string, width: number): string[] {
  const words: string[] = [''];
  let depth = 0;
  for (const c of text) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (c === ' ' && depth === 0) words.push('');
    else words[words.length - 1] += c;
  }
  const terms = words.reduce<string[]>((joined, word) => {
    const previous = joined[joined.length - 1];
    if (previous !== undefined && /^[·/+−@]$/u.test(previous)) joined[joined.length - 1] = `${previous} ${word}`;
    else joined.push(word);
    return joined;
  }, []);
  const lines: string[] = [];
  for (const term of terms) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + term.length <= width) lines[last] += ` ${term}`;
    else lines.push(term);
  }
  return lines;
}

/** Beside an output: the gradient the backward pass started from. */
function upstreamLabel(output: TensorNodeAttributes, o: ResolvedOptions): string {
  if (isUnitSeed(output)) return `∂L/∂L = 1${output.label === 'L' ? '' : `\n(L is ${output.label})`}`;
  return `${gradientName(output.label)}\n${o.upstream ?? '(upstream)'}`;
}

/** The caption's line on where the gradients started, for each output that has them. */
function seedLine(graph: TraceGraph, o: ResolvedOptions): string {
  const lines = graph.getAttribute('outputs').flatMap((key) => {
    const output = graph.getNodeAttributes(key);
    if (output.kind !== 'tensor' || !output.requiresGrad) return [];
    if (isUnitSeed(output)) return [`gradients of the loss L${output.label === 'L' ? '' : ` = ${output.label}`}, from ∂L/∂L = 1`];
    return o.upstream === undefined ? [] : [`gradients from ${gradientName(output.label)}: ${o.upstream}`];
  });
  return [...new Set(lines)].join('\n');
}

/**
 * A scalar output is the loss itself, whose backward() starts from 1, unless its retained
 * gradient says it started from something else.
 */
function isUnitSeed(output: TensorNodeAttributes): boolean {
  return output.value.values?.length === 1 && (output.grad === null || output.grad.values?.[0] === 1);
}

/** Pixels at 96 per inch, the unit Graphviz sizes in. */
const inches = (pixels: number) => round(pixels / 96);
const round = (n: number) => Math.round(n * 10000) / 10000;


/**
 * Graphviz DOT for the graph that computed `outputs`, or for an existing trace. Deterministic:
 * the same graph and options give byte-identical text.
 */
export function toDot(source: Tensor | readonly Tensor[] | TraceGraphLike, options: DotOptions = {}): string {
  if (!isTraceGraph(source) && !isTensor(source) && !Array.isArray(source)) {
    throw new Error(`toDot: source must be a Tensor, an array of Tensors or a trace() graph, got ${describeValue(source)}`);
  }
  if (Array.isArray(source)) {
    source.forEach((t: unknown, i) => {
      if (!isTensor(t)) throw new Error(`toDot: output ${i} must be a Tensor, got ${describeValue(t)}`);
    });
  }
  const o = resolve(options);
  const traced = isTraceGraph(source) ? asTraceGraph('toDot', source) : trace(source, { recordedBackward: o.backward === 'recorded', dims: o.dims });
  const blocks = o.repeats ? collapseRepeats(traced) : traced;
  const graph: PictureGraph = o.clusters === 'collapsed' ? collapseModules(blocks) : (blocks as PictureGraph);
  // The caption says what the letters in the shapes stand for.
  const sizes = Object.entries(o.dims).map(([symbol, size]) => `${symbol} = ${size}`).join(', ');
  const showsGradients = o.grads !== 'none' || o.backward !== 'none';
  const seeded = showsGradients ? seedLine(traced, o) : '';
  const captionLines = [o.title ?? '', o.title === undefined ? '' : sizes, seeded].filter((line) => line !== '');
  const caption = captionLines.length === 0 ? undefined : captionLines.join('\n');
  // Scaled up or down until it touches the box, keeping its aspect: spreading the layout to the
  // box's aspect (ratio) leaves the text tiny among long edges, so the slide letterboxes instead.
  const fit = o.fit === undefined ? {} : { size: `${inches(o.fit.width)},${inches(o.fit.height)}!` };
  const header = [
    'digraph "gradgraph" {',
    `  graph${attributeList({ rankdir: o.direction, fontname: FONT, fontsize: 12, nodesep: 0.3, ranksep: o.direction === 'LR' ? 0.2 : 0.35, label: caption, labelloc: caption === undefined ? undefined : 't', ...fit })};`,
    `  node${attributeList({ fontname: FONT, fontsize: 11, margin: '0.12,0.06' })};`,
    `  edge${attributeList({ fontname: FONT, fontsize: 9, color: '#555555', arrowsize: 0.7 })};`,
  ];
  const key = o.legend ? legendStatements(graph, o) : [];
  return [...header, ...nodeStatements(graph, o), ...edgeStatements(graph, o), ...key, '}', ''].join('\n');
}
