import { DirectedGraph } from 'graphology';
import { Tensor } from '../tensor/tensor.js';
import type { GraphNode } from '../autograd/op.js';
import { postOrder } from '../autograd/traversal.js';
import { noGrad } from '../autograd/mode.js';
import { localGradients } from './formulas.js';
import { checkOptions, describeValue, expectBoolean } from '../validate.js';

/*
 * The one walk over a recorded graph for everything that looks at it: the DOT writer, the
 * analysis and the CLI read the graphology graph built here, never `node.inputs` themselves.
 *
 * Keys are handed out in the order of an iterative post-order walk from the outputs, inputs
 * visited in argument order: `t0, t1, ...` for tensors and `op0, op1, ...` for ops. They depend
 * only on the shape of the graph, never on creation counters or memory addresses (edges are
 * keyed `t0->op0`), so the same graph built twice gets the same keys in the same order, and the
 * DOT written from it is byte-identical.
 */

/** How a picture should treat a tensor. */
export type TensorRole = 'input' | 'parameter' | 'buffer' | 'constant' | 'intermediate' | 'output';

/** `backward` for what a `createGraph` backward pass recorded. */
export type Phase = 'forward' | 'backward';

/** Population statistics of a tensor's values. */
export interface Summary {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** A tensor's values as a picture may show them. */
export interface ValueSnapshot {
  /** null for an empty tensor. */
  readonly summary: Summary | null;
  /** Every value, row-major, when there are at most `valuesLimit` (default `FULL_VALUES_LIMIT`) of them. */
  readonly values: readonly number[] | null;
}

/** Tensors up to this many elements keep all their values in the trace. */
export const FULL_VALUES_LIMIT = 24;

export interface TensorNodeAttributes {
  readonly kind: 'tensor';
  readonly role: TensorRole;
  readonly phase: Phase;
  readonly name: string | null;
  /** What a picture calls it: its name, else the step that produced it, else its value or `input`. */
  readonly label: string;
  readonly shape: readonly number[];
  /** The module scope of the op that produced it; a parameter takes the scope of its only user module. */
  readonly scope: readonly string[];
  readonly requiresGrad: boolean;
  readonly value: ValueSnapshot;
  /** `.grad` when the trace was taken (after `backward()`, with `retainGrads` for intermediates). */
  readonly grad: ValueSnapshot | null;
  /** For a gradient recorded by a `createGraph` backward pass: the key of the tensor it is the gradient of. */
  readonly gradientOf: string | null;
}

export interface OpNodeAttributes {
  readonly kind: 'op';
  readonly phase: Phase;
  /** The primitive op (`mean`, `sub`, ...). */
  readonly op: string;
  /** The human label: the op's own (`−`, `√`) or the one a caller set (BN's `'variance'`). */
  readonly label: string;
  /** The op's settings worth showing (`axes [0]`), empty when none. */
  readonly detail: string;
  readonly scope: readonly string[];
  /** Its place in its phase's order of execution, from 1: the forward pass runs step 1 first. */
  readonly step: number;
  /** For a forward op, its place in the backward pass, which runs the steps in reverse: the last step first. */
  readonly backwardStep: number | null;
  /**
   * The local gradients, one per input: the right-hand side of `∂L/∂input = …` in the tensors'
   * labels (`−Σₙ ∂L/∂x̂ · (x − μ) / σ²`), from the op's `formula`.
   */
  readonly formulas: readonly string[];
}

export type TraceNodeAttributes = TensorNodeAttributes | OpNodeAttributes;

export interface TraceEdgeAttributes {
  /** `input` for tensor → op, `output` for op → tensor. */
  readonly kind: 'input' | 'output';
  /** For an input edge, the op's argument names this tensor is passed as (`['a', 'b']` for `x * x`). */
  readonly arguments: readonly string[];
  /** For an input edge, the argument positions, in the same order: `[0, 1]` for `x * x`. */
  readonly positions: readonly number[];
  /**
   * With `gradientParts`, on an input edge: what the op passes back to this input, its part of
   * the input's gradient (the parts of all its edges add up to its `.grad`). Null when the op's
   * output has no `.grad` to pass back.
   */
  readonly gradient?: ValueSnapshot | null;
}

export interface TraceGraphAttributes {
  /** Keys of the traced outputs, in the order given. */
  readonly outputs: readonly string[];
}

export type TraceGraph = DirectedGraph<TraceNodeAttributes, TraceEdgeAttributes, TraceGraphAttributes>;

export interface TraceOptions {
  /**
   * Also walk the backward graph a `backward(..., { createGraph: true })` recorded, starting
   * from the `.grad` of every traced tensor. Its nodes get `phase: 'backward'`.
   */
  recordedBackward?: boolean;
  /** Letters for sizes, `{ N: 4 }`, so the formulas write a sum over the batch as Σₙ and a count as N. */
  dims?: Readonly<Record<string, number>>;
  /** Tensors with at most this many elements keep all their values (default FULL_VALUES_LIMIT). */
  valuesLimit?: number;
  /**
   * Give every input edge the gradient the op passes back along it (`gradient`), computed from
   * the `.grad` of the op's output, so a viewer can show each part of a gradient that gathers
   * several. Needs a backward pass with `retainGrads` first.
   */
  gradientParts?: boolean;
}

function snapshot(t: Tensor, valuesLimit: number): ValueSnapshot {
  // storage, not data: reading for a picture hands no buffer out (see autograd/saved.ts).
  const data = t.storage;
  return { summary: summarize(data), values: data.length <= valuesLimit ? Array.from(data) : null };
}

/** Mean, population standard deviation, min and max; null when there are no values. */
export function summarize(data: ArrayLike<number>): Summary | null {
  if (data.length === 0) return null;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    sum += data[i];
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  const mean = sum / data.length;
  let squares = 0;
  for (let i = 0; i < data.length; i++) squares += (data[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / data.length), min, max };
}

/** The op settings a reader needs to tell one reduction or reshape from another. */
function describeAttrs(attrs: unknown): string {
  if (typeof attrs !== 'object' || attrs === null) return '';
  const parts: string[] = [];
  const { axes, shape } = attrs as { axes?: unknown; shape?: unknown };
  if (Array.isArray(axes)) parts.push(`axes [${axes.join(', ')}]`);
  if (Array.isArray(shape)) parts.push(`to [${shape.join(', ')}]`);
  return parts.join(', ');
}

function roleOf(t: Tensor, isOutput: boolean): TensorRole {
  if (isOutput) return 'output';
  if (!t.isLeaf) return 'intermediate';
  if (t.isParameter) return 'parameter';
  // `=== true`: a tensor from an older copy of gradgraph (a user's module) has no such flag.
  if (t.isBuffer === true) return 'buffer';
  // A number passed to an op (`x.add(1e-5)`) becomes a one-element leaf that needs no gradient.
  if (!t.requiresGrad && t.size === 1) return 'constant';
  return 'input';
}

function tensorLabel(t: Tensor): string {
  if (t.name !== undefined && t.name !== '') return t.name;
  if (t.node) return t.node.label;
  return t.size === 1 ? String(t.storage[0]) : 'input';
}

/**
 * A Tensor, possibly from another copy of gradgraph (a program may load two, say src/ and
 * dist/; the CLI hands user modules its own, see cli/one-library.ts), so `instanceof` alone
 * would turn away tensors that trace perfectly well.
 */
export function isTensor(value: unknown): value is Tensor {
  if (value instanceof Tensor) return true;
  const candidate = value as Partial<Tensor> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.storage instanceof Float64Array
    && Array.isArray(candidate.shape) && 'node' in candidate && typeof candidate.requiresGrad === 'boolean';
}

/** A graph trace() made (or one built like it): what analyze, collapse and toDot read. */
export function isTraceGraph(source: unknown): source is TraceGraph {
  return typeof source === 'object' && source !== null && !Array.isArray(source) && !isTensor(source)
    && typeof (source as TraceGraph).forEachNode === 'function';
}

/** Refuses anything but a trace() graph, naming the function and what it got. */
export function expectTraceGraph(fn: string, graph: unknown): asserts graph is TraceGraph {
  if (!isTraceGraph(graph)) throw new Error(`${fn}: graph must be what trace() returns, got ${describeValue(graph)}`);
}

/** What a value that should have been a Tensor is, for an error message: `number`, `null`, `array`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Every tensor and op the outputs were computed from, as a graphology graph. */
export function trace(outputs: Tensor | readonly Tensor[], options: TraceOptions = {}): TraceGraph {
  // Checked before spreading: `[...3]` would fail with a TypeError that names no argument.
  if (!isTensor(outputs) && !Array.isArray(outputs)) throw new Error(`trace: outputs must be a Tensor or an array of Tensors, got ${describeValue(outputs)}`);
  const roots: Tensor[] = isTensor(outputs) ? [outputs] : [...outputs];
  if (roots.length === 0) throw new Error('trace: no outputs to trace');
  roots.forEach((t, i) => {
    if (!isTensor(t)) throw new Error(`trace: output ${i} must be a Tensor, got ${describeValue(t)}`);
  });

  checkOptions('trace', options, ['recordedBackward', 'dims', 'valuesLimit', 'gradientParts']);
  const valuesLimit = options.valuesLimit ?? FULL_VALUES_LIMIT;
  if (!(typeof valuesLimit === 'number' && valuesLimit >= 0)) throw new Error(`trace: valuesLimit must be a number ≥ 0, got ${describeValue(valuesLimit)}`);
  for (const flag of ['recordedBackward', 'gradientParts'] as const) {
    if (options[flag] !== undefined) expectBoolean('trace', flag, options[flag]);
  }
  const keys = new Map<Tensor, string>();
  const outputSet = new Set(roots);
  const seen = new Set<Tensor>();
  const walks: { phase: Phase; tensors: Tensor[] }[] = [{ phase: 'forward', tensors: postOrder(roots, undefined, seen) }];
  if (options.recordedBackward) {
    // Gradients recorded with createGraph are tensors with nodes of their own; walking from
    // them finds the backward graph, which reuses forward tensors (x̂, γ) as its inputs.
    const gradients = walks[0].tensors.flatMap((t) => (t.grad?.node ? [t.grad] : []));
    walks.push({ phase: 'backward', tensors: postOrder(gradients, undefined, seen) });
  }

  const graph: TraceGraph = new DirectedGraph();
  // Leaves belong to no scope themselves. A parameter or constant is drawn inside a module's box
  // when only that module uses it (γ and β inside BatchNorm1d), so first collect who uses each.
  const userScopes = new Map<Tensor, (readonly string[])[]>();
  let opCount = 0;
  const nodesInOrder: { tensor: Tensor; phase: Phase; opKey: string | null }[] = [];
  for (const { phase, tensors } of walks) {
    for (const t of tensors) {
      keys.set(t, `t${keys.size}`);
      const opKey = t.node ? `op${opCount++}` : null;
      nodesInOrder.push({ tensor: t, phase, opKey });
      for (const input of t.node?.inputs ?? []) {
        if (!input.isLeaf) continue;
        // Appended in place: copying the list on every use made a leaf used n times cost n².
        const scopes = userScopes.get(input);
        if (scopes) scopes.push(t.node!.scope);
        else userScopes.set(input, [t.node!.scope]);
      }
    }
  }
  const gradientOf = new Map<Tensor, string>();
  for (const [t, key] of keys) if (t.grad && keys.has(t.grad) && t.grad !== t) gradientOf.set(t.grad, key);

  const forwardOps = nodesInOrder.filter((n) => n.phase === 'forward' && n.opKey !== null).length;
  const steps: Record<Phase, number> = { forward: 0, backward: 0 };
  const dims = options.dims ?? {};
  const described = (u: Tensor) => ({ label: tensorLabel(u), shape: u.shape });
  for (const { tensor: t, phase, opKey } of nodesInOrder) {
    const node: GraphNode | null = t.node;
    const key = keys.get(t)!;
    if (node && opKey) {
      const step = ++steps[phase];
      graph.addNode(opKey, {
        kind: 'op',
        phase,
        op: node.op.name,
        label: node.label,
        detail: describeAttrs(node.attrs),
        scope: node.scope,
        step,
        backwardStep: phase === 'forward' ? forwardOps - step + 1 : null,
        formulas: localGradients(node, { inputs: node.inputs.map(described), output: described(t), dims }),
      });
      const parts = options.gradientParts ? gradientParts(node, valuesLimit) : null;
      node.inputs.forEach((input, i) => {
        const from = keys.get(input)!;
        const name = node.inputName(i);
        const edge = `${from}->${opKey}`;
        // A tensor passed before to this op (`x * x`) already has its edge; asking the node's own
        // short input list is much cheaper than asking the graph 100,000 times for a shared x.
        if (node.inputs.indexOf(input) < i) {
          graph.updateEdgeAttributes(edge, (a) => ({ ...a, arguments: [...a.arguments, name], positions: [...a.positions, i] }));
        } else {
          graph.addDirectedEdgeWithKey(edge, from, opKey, { kind: 'input', arguments: [name], positions: [i], ...(parts ? { gradient: parts.get(input) ?? null } : {}) });
        }
      });
    }
    const role = roleOf(t, phase === 'forward' && outputSet.has(t));
    graph.addNode(key, {
      kind: 'tensor',
      role,
      phase,
      name: t.name ?? null,
      label: tensorLabel(t),
      shape: [...t.shape],
      scope: node ? node.scope : leafScope(role, userScopes.get(t) ?? []),
      requiresGrad: t.requiresGrad,
      value: snapshot(t, valuesLimit),
      grad: t.grad ? snapshot(t.grad, valuesLimit) : null,
      gradientOf: gradientOf.get(t) ?? null,
    });
    if (opKey) graph.addDirectedEdgeWithKey(`${opKey}->${key}`, opKey, key, { kind: 'output', arguments: [], positions: [] });
  }
  graph.replaceAttributes({ outputs: roots.map((t) => keys.get(t)!) });
  return graph;
}

/**
 * The scope a leaf is drawn in: the one all its users share, for a parameter, buffer or constant. Data
 * (the input batch) stays outside every module, as do leaves used by two different modules.
 */
function leafScope(role: TensorRole, scopes: readonly (readonly string[])[]): readonly string[] {
  if ((role !== 'parameter' && role !== 'buffer' && role !== 'constant') || scopes.length === 0) return [];
  const first = scopes[0];
  const same = scopes.every((s) => s.length === first.length && s.every((name, i) => name === first[i]));
  return same ? first : [];
}

/**
 * What an op passes back to each of its inputs for its output's `.grad`: the op's own backward,
 * run again without recording. An input passed twice (`x * x`) gets the sum of both parts, as
 * its one edge carries both.
 */
function gradientParts(node: GraphNode, valuesLimit: number): Map<Tensor, ValueSnapshot> {
  const parts = new Map<Tensor, ValueSnapshot>();
  const upstream = node.output.grad;
  if (!upstream) return parts;
  const needsInputGrad = node.inputs.map((input) => input.requiresGrad);
  const grads = noGrad(() => node.op.backward({ inputs: node.inputs, output: node.output, attrs: node.attrs, needsInputGrad }, upstream));
  const sums = new Map<Tensor, Tensor>();
  node.inputs.forEach((input, i) => {
    const g = grads[i];
    if (!needsInputGrad[i] || !g) return;
    const before = sums.get(input);
    sums.set(input, before ? noGrad(() => before.add(g)) : g);
  });
  for (const [input, sum] of sums) parts.set(input, snapshot(sum, valuesLimit));
  return parts;
}
