import { Tensor } from '../tensor/tensor.js';
import type { GraphNode } from '../autograd/op.js';
import { postOrder } from '../autograd/traversal.js';
import { noGrad } from '../autograd/mode.js';
import { localGradients } from './formulas.js';
import { checkOptions, describeValue, expectBoolean } from '../validate.js';
import type { AbstractGraph } from 'graphology-types';
import { TraceGraph } from './trace-graph.js';
import { TraceGraphBuilder } from './trace-graph-builder.js';
import { sharedRecords, snapshot } from './snapshots.js';

/*
 * The one walk over a recorded graph for everything that looks at it: the DOT writer, the
 * analysis and the CLI read the graph built here (a TraceGraph), never `node.inputs` themselves.
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

export { TraceGraph };

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

/**
 * What toDot, analyze, collapse and the explorer read: a trace, or a graph with graphology's API
 * built like one (the same node and edge attributes, and `outputs`), say with graphology itself.
 */
export type TraceGraphLike = TraceGraph | AbstractGraph<TraceNodeAttributes, TraceEdgeAttributes, TraceGraphAttributes>;

/** A graph trace() made, or one built like it. */
export function isTraceGraph(source: unknown): source is TraceGraphLike {
  if (source instanceof TraceGraph) return true;
  const candidate = source as Partial<Record<'forEachNode' | 'forEachEdge' | 'getAttributes', unknown>> | null;
  return typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate) && !isTensor(candidate)
    && typeof candidate.forEachNode === 'function' && typeof candidate.forEachEdge === 'function' && typeof candidate.getAttributes === 'function';
}

/**
 * The trace to read: a TraceGraph as it is; a graph built like one (with graphology, or a trace
 * from another copy of gradgraph) copied into one, through the methods graphology and TraceGraph
 * share. Refuses anything else, naming the function and what it got.
 */
export function asTraceGraph(fn: string, graph: unknown): TraceGraph {
  if (!isTraceGraph(graph)) throw new Error(`${fn}: graph must be what trace() returns, got ${describeValue(graph)}`);
  if (graph instanceof TraceGraph) return graph;
  const builder = new TraceGraphBuilder();
  graph.forEachNode((key: string, attributes: TraceNodeAttributes) => builder.addNode(key, attributes));
  graph.forEachEdge((key: string, attributes: TraceEdgeAttributes, source: string, target: string) => builder.addEdge(source, target, attributes, key));
  return builder.build(graph.getAttributes());
}

/** What a value that should have been a Tensor is, for an error message: `number`, `null`, `array`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Every tensor and op the outputs were computed from, as a TraceGraph (toGraphology() makes it a graphology graph). */
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
  const seen = new Set<Tensor>();
  const walks: { phase: Phase; tensors: Tensor[] }[] = [{ phase: 'forward', tensors: postOrder(roots, undefined, seen) }];
  if (options.recordedBackward) {
    // Gradients recorded with createGraph are tensors with nodes of their own; walking from
    // them finds the backward graph, which reuses forward tensors (x̂, γ) as its inputs.
    const gradients = walks[0].tensors.flatMap((t) => (t.grad?.node ? [t.grad] : []));
    walks.push({ phase: 'backward', tensors: postOrder(gradients, undefined, seen) });
  }

  // Tensor `t${i}` is the i-th tensor of the walks, op `op${j}` the j-th op.
  const index = new Map<Tensor, number>();
  // The numbers of every op's inputs, op after op: each is numbered before the ops that use it.
  const opInputs: number[] = [];
  // Leaves belong to no scope themselves. A parameter or constant is drawn inside a module's box
  // when only that module uses it (γ and β inside BatchNorm1d), so first find the scope all the
  // users of each leaf share (by tensor number): null once two differ. Kept as it goes, not as a
  // list of every use, so a leaf used 100,000 times costs no more than 100,000 leaves used once.
  const usersScope = new Array<readonly string[] | null | undefined>(walks.reduce((count, walk) => count + walk.tensors.length, 0));
  let forwardOps = 0;
  for (const { phase, tensors } of walks) {
    for (const t of tensors) {
      index.set(t, index.size);
      if (!t.node) continue;
      if (phase === 'forward') forwardOps++;
      const scope = t.node.scope;
      for (const input of t.node.inputs) {
        const number = index.get(input)!;
        opInputs.push(number);
        // Data keeps no scope (leafScope): x used 100,000 times is not asked 100,000 times.
        if (!input.isLeaf || roleOf(input, false) === 'input') continue;
        const before = usersScope[number];
        if (before === undefined) usersScope[number] = scope;
        else if (before !== null && !sameScope(before, scope)) usersScope[number] = null;
      }
    }
  }
  // Looked up once per output, not once per tensor: 100,000 outputs make a big set to ask.
  const outputNumbers = roots.map((t) => index.get(t)!);
  const isOutput = new Uint8Array(index.size);
  for (const i of outputNumbers) isOutput[i] = 1;
  const gradientOf = new Map<Tensor, string>();
  index.forEach((i, t) => {
    if (t.grad && t.grad !== t && index.has(t.grad)) gradientOf.set(t.grad, `t${i}`);
  });

  // The attributes are worked out now, while the tensors hold the values traced. Nodes in the
  // order found: each op just before the tensor it computes. The edges follow from each op's
  // inputs, kept as tensor numbers, and go in after all the nodes.
  const nodeAttributes: TraceNodeAttributes[] = [];
  // Per op j: its node, the number of the tensor it computes, and (with gradientParts) what it passes back.
  const opNodes: GraphNode[] = [];
  const opOutputs: number[] = [];
  const opParts: (Map<Tensor, ValueSnapshot> | null)[] = [];
  const steps: Record<Phase, number> = { forward: 0, backward: 0 };
  const formulas = formulaWriter(options.dims ?? {});
  const shared = sharedRecords(valuesLimit);
  let tensorCount = 0;
  for (const { phase, tensors } of walks) {
    for (const t of tensors) {
      const node: GraphNode | null = t.node;
      if (node) {
        const step = ++steps[phase];
        nodeAttributes.push({
          kind: 'op',
          phase,
          op: node.op.name,
          label: node.label,
          detail: describeAttrs(node.attrs),
          scope: node.scope,
          step,
          backwardStep: phase === 'forward' ? forwardOps - step + 1 : null,
          formulas: formulas(node, t),
        });
        opNodes.push(node);
        opOutputs.push(tensorCount);
        opParts.push(options.gradientParts ? gradientParts(node, valuesLimit) : null);
      }
      const role = roleOf(t, phase === 'forward' && isOutput[tensorCount] === 1);
      nodeAttributes.push({
        kind: 'tensor',
        role,
        phase,
        name: t.name ?? null,
        label: tensorLabel(t),
        shape: shared.shape(t.shape),
        scope: node ? node.scope : leafScope(role, usersScope[tensorCount]),
        requiresGrad: t.requiresGrad,
        value: shared.snapshot(t),
        grad: t.grad ? shared.snapshot(t.grad) : null,
        gradientOf: gradientOf.size > 0 ? (gradientOf.get(t) ?? null) : null,
      });
      tensorCount++;
    }
  }
  // Node numbers: tensor i and op j sit where they were found, each op just before its result.
  const nodeKeys = new Array<string>(nodeAttributes.length);
  const tensorNodes = new Int32Array(tensorCount);
  const opNodeNumbers = new Int32Array(opNodes.length);
  for (let n = 0, tensors = 0, ops = 0; n < nodeAttributes.length; n++) {
    if (nodeAttributes[n].kind === 'op') {
      opNodeNumbers[ops] = n;
      nodeKeys[n] = `op${ops++}`;
    } else {
      tensorNodes[tensors] = n;
      nodeKeys[n] = `t${tensors++}`;
    }
  }
  // Each op's input edges in argument order, then its output edge.
  const edgeSources = new Int32Array(opInputs.length + opNodes.length);
  const edgeTargets = new Int32Array(edgeSources.length);
  const edgeAttributes: TraceEdgeAttributes[] = [];
  const inputEdges = inputEdgeRecords();
  let inputCount = 0;
  opNodes.forEach((node, j) => {
    const parts = opParts[j];
    node.inputs.forEach((input, i) => {
      const from = opInputs[inputCount++];
      // A tensor passed again to this op (`x * x`) has one edge, which carries every place it is passed.
      if (node.inputs.indexOf(input) < i) return;
      const once = node.inputs.indexOf(input, i + 1) < 0;
      let attributes: TraceEdgeAttributes;
      if (once && !parts) {
        attributes = inputEdges(node.inputName(i), i);
      } else {
        const positions = once ? [i] : node.inputs.flatMap((other, k) => (other === input && k >= i ? [k] : []));
        const names = positions.map((k) => node.inputName(k));
        attributes = parts ? { kind: 'input', arguments: names, positions, gradient: parts.get(input) ?? null } : { kind: 'input', arguments: names, positions };
      }
      edgeSources[edgeAttributes.length] = tensorNodes[from];
      edgeTargets[edgeAttributes.length] = opNodeNumbers[j];
      edgeAttributes.push(attributes);
    });
    edgeSources[edgeAttributes.length] = opNodeNumbers[j];
    edgeTargets[edgeAttributes.length] = tensorNodes[opOutputs[j]];
    edgeAttributes.push(OUTPUT_EDGE);
  });
  return new TraceGraph({
    attributes: { outputs: outputNumbers.map((i) => `t${i}`) },
    nodeKeys,
    nodeAttributes,
    edgeSources: edgeSources.subarray(0, edgeAttributes.length),
    edgeTargets: edgeTargets.subarray(0, edgeAttributes.length),
    edgeAttributes,
    numbered: { tensors: tensorNodes, ops: opNodeNumbers },
  });
}

/** What every output edge carries: nothing to say, so one frozen record for all of them. */
const OUTPUT_EDGE: TraceEdgeAttributes = Object.freeze({ kind: 'output', arguments: Object.freeze([]), positions: Object.freeze([]) });

/**
 * The attributes of an input edge passing a tensor once, as argument `name` at `position`: one
 * frozen record for all edges alike, as 100,000 adds make 200,000 edges of two kinds.
 */
function inputEdgeRecords(): (name: string, position: number) => TraceEdgeAttributes {
  const records = new Map<string, TraceEdgeAttributes[]>();
  return (name, position) => {
    let byPosition = records.get(name);
    if (!byPosition) records.set(name, (byPosition = []));
    return (byPosition[position] ??= Object.freeze({ kind: 'input', arguments: Object.freeze([name]), positions: Object.freeze([position]) }));
  };
}

/** The scope all users of a leaf share; the same scope is usually the same frozen array. */
function sameScope(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((name, i) => name === b[i]));
}

/**
 * The scope a leaf is drawn in: the one all its users share, for a parameter, buffer or constant. Data
 * (the input batch) stays outside every module, as do leaves used by two different modules.
 */
function leafScope(role: TensorRole, usersScope: readonly string[] | null | undefined): readonly string[] {
  return (role === 'parameter' || role === 'buffer' || role === 'constant') && usersScope ? usersScope : [];
}

/**
 * The local gradients of an op node (formulas.ts). Ops alike, with no settings of their own and
 * the same op, input and output labels and shapes, have the same formulas, written once: the
 * 100,000 steps of `acc = acc.add(x)` share theirs.
 */
function formulaWriter(dims: Readonly<Record<string, number>>): (node: GraphNode, output: Tensor) => readonly string[] {
  const written = new Map<unknown, Map<string, readonly string[]>>();
  const described = (t: Tensor) => ({ label: tensorLabel(t), shape: t.shape });
  // Frozen: the op nodes alike share one list.
  const write = (node: GraphNode, output: Tensor) => Object.freeze(localGradients(node, { inputs: node.inputs.map(described), output: described(output), dims }));
  return (node, output) => {
    if (node.attrs !== undefined) return write(node, output);
    let alike = written.get(node.op);
    if (!alike) written.set(node.op, (alike = new Map()));
    // Labels may hold any character; the separators are control characters no label needs.
    let key = `${tensorLabel(output)}\u0001${output.shape.join()}`;
    for (const input of node.inputs) key += `\u0002${tensorLabel(input)}\u0001${input.shape.join()}`;
    let formulas = alike.get(key);
    if (!formulas) alike.set(key, (formulas = write(node, output)));
    return formulas;
  };
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
