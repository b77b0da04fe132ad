import { summarize } from '../snapshots.js';
import { asTraceGraph, type OpNodeAttributes, type TensorNodeAttributes, type TensorRole, type TraceGraphLike, type ValueSnapshot } from '../trace.js';

/*
 * What the explorer page knows about a graph, as plain JSON: every tensor with its values and
 * gradient, every op with its inputs and local gradient formulas, and the steps of the walk, the
 * forward pass in order, then the backward pass in reverse, one gradient edge at a time. All of
 * it is read from a trace; the page itself computes nothing but the picture's state.
 */

export interface ExplorerTensor {
  readonly key: string;
  readonly label: string;
  readonly shape: readonly number[];
  readonly role: TensorRole;
  readonly scope: readonly string[];
  readonly requiresGrad: boolean;
  readonly value: ValueSnapshot;
  readonly grad: ValueSnapshot | null;
}

export interface ExplorerInput {
  readonly tensor: string;
  /** The op's argument names this tensor is passed as (`a, b` for `x * x`). */
  readonly arguments: readonly string[];
  /** Their positions among the op's arguments, which index `formulas`. */
  readonly positions: readonly number[];
  /** What the op passes back to this input: its part of the input's gradient. */
  readonly gradient: ValueSnapshot | null;
}

export interface ExplorerOp {
  readonly key: string;
  readonly op: string;
  readonly label: string;
  readonly detail: string;
  readonly scope: readonly string[];
  readonly inputs: readonly ExplorerInput[];
  readonly output: string;
  /** One local gradient formula per input, in argument order, when the trace carries them. */
  readonly formulas: readonly string[] | null;
}

export type ExplorerStep =
  | { readonly kind: 'forward'; readonly op: string }
  /** The upstream gradient of an output, where the backward pass starts. */
  | { readonly kind: 'seed'; readonly tensor: string }
  | {
    readonly kind: 'backward';
    readonly op: string;
    readonly tensor: string;
    /** Which part of the tensor's gradient this is (1-based), of how many. */
    readonly part: number;
    readonly parts: number;
    /** The sum of the parts so far, this one included: the whole gradient at the last part. */
    readonly runningSum: ValueSnapshot | null;
  };

export interface ExplorerData {
  readonly title: string;
  readonly tensors: Readonly<Record<string, ExplorerTensor>>;
  readonly ops: Readonly<Record<string, ExplorerOp>>;
  readonly outputs: readonly string[];
  readonly steps: readonly ExplorerStep[];
  /** Letters for sizes (`{ N: 4, D: 3 }`), as the picture writes shapes. */
  readonly dims: Readonly<Record<string, number>>;
}

/** The formulas a trace's op node carries, once the op table has them; null before. */
function formulasOf(a: OpNodeAttributes): readonly string[] | null {
  const { formulas } = a as OpNodeAttributes & { formulas?: unknown };
  return Array.isArray(formulas) && formulas.every((f) => typeof f === 'string') ? formulas : null;
}

/**
 * The explorer's data from a trace taken with `gradientParts` (and a `valuesLimit` large enough
 * for the values the page should show). Only the forward graph is walked: a recorded backward
 * graph is drawn by the static pictures.
 */
export function explorerData(source: TraceGraphLike, options: { title?: string; dims?: Readonly<Record<string, number>> } = {}): ExplorerData {
  const graph = asTraceGraph('explorerData', source);
  const tensors: Record<string, ExplorerTensor> = {};
  const ops: Record<string, ExplorerOp> = {};
  const order: string[] = [];
  graph.forEachNode((key, a) => {
    if (a.phase !== 'forward') return;
    if (a.kind === 'tensor') {
      const t: TensorNodeAttributes = a;
      tensors[key] = { key, label: t.label, shape: t.shape, role: t.role, scope: t.scope, requiresGrad: t.requiresGrad, value: t.value, grad: t.grad };
      return;
    }
    let next = 0;
    const inputs = graph.inEdges(key).map((edge) => {
      const e = graph.getEdgeAttributes(edge);
      // A trace that records argument positions says; otherwise edges come in argument order.
      const recorded = (e as { positions?: unknown }).positions;
      const positions = Array.isArray(recorded) ? (recorded as number[]) : e.arguments.map(() => next++);
      return { tensor: graph.source(edge), arguments: e.arguments, positions, gradient: e.gradient ?? null };
    });
    const output = graph.outNeighbors(key)[0];
    ops[key] = { key, op: a.op, label: a.label, detail: a.detail, scope: a.scope, inputs, output, formulas: formulasOf(a) };
    order.push(key);
  });

  const steps: ExplorerStep[] = order.map((op) => ({ kind: 'forward', op }));
  const outputs = graph.getAttribute('outputs').filter((key) => tensors[key]?.grad);
  for (const tensor of outputs) steps.push({ kind: 'seed', tensor });
  // How many parts each tensor's gradient gathers: one per op edge that carries one back.
  const partCount = new Map<string, number>();
  for (const op of order) for (const input of ops[op].inputs) if (input.gradient) partCount.set(input.tensor, (partCount.get(input.tensor) ?? 0) + 1);
  const arrived = new Map<string, { count: number; sum: number[] | null }>();
  for (const op of [...order].reverse()) {
    for (const input of ops[op].inputs) {
      if (!input.gradient) continue;
      const before = arrived.get(input.tensor) ?? { count: 0, sum: [] };
      const values = input.gradient.values;
      const sum = before.sum && values ? values.map((v, i) => v + (before.sum![i] ?? 0)) : null;
      arrived.set(input.tensor, { count: before.count + 1, sum });
      steps.push({
        kind: 'backward',
        op,
        tensor: input.tensor,
        part: before.count + 1,
        parts: partCount.get(input.tensor)!,
        runningSum: sum ? { summary: summarize(sum), values: sum } : input.gradient.summary && before.count === 0 ? input.gradient : null,
      });
    }
  }
  return { title: options.title ?? 'gradgraph', tensors, ops, outputs: graph.getAttribute('outputs'), steps, dims: options.dims ?? {} };
}
