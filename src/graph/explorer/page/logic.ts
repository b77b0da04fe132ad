import { wrapCompound } from '../../../autograd/op.js';
import { gradientName } from '../../formulas.js';
import { formatDims, numberFormat } from '../../labels.js';
import type { ExplorerData, ExplorerInput, ExplorerOp, ExplorerStep, ExplorerTensor } from '../data.js';
import type { ValueSnapshot } from '../../trace.js';

/*
 * The explorer page's logic without the DOM: what each step lights and says, and how a tensor's
 * values are laid out as a table or a heatmap. main.ts applies it to the page; the unit tests
 * in tests/graph/explorer/ read it directly.
 */

/** The largest tensor shown as a table of numbers; larger ones become a heatmap. */
export const TABLE_LIMIT = 36;

/** What one step of the walk lights: nodes, forward edges, gradient edges (`from->to` keys). */
export interface StepLights {
  readonly nodes: readonly string[];
  readonly edges: readonly string[];
  readonly gradientEdges: readonly string[];
}

export function stepLights(data: ExplorerData, step: ExplorerStep): StepLights {
  if (step.kind === 'forward') {
    const op = data.ops[step.op];
    return {
      nodes: [op.key, op.output, ...op.inputs.map((i) => i.tensor)],
      edges: [...op.inputs.map((i) => `${i.tensor}->${op.key}`), `${op.key}->${op.output}`],
      gradientEdges: [],
    };
  }
  if (step.kind === 'seed') return { nodes: [step.tensor], edges: [], gradientEdges: [`${step.tensor}->${step.tensor}_upstream`] };
  return { nodes: [step.op, step.tensor, data.ops[step.op].output], edges: [], gradientEdges: [`${step.tensor}->${step.op}`] };
}

/** The tensors whose value is known after `index` steps (forward) or whose gradient has started to gather (backward). */
export function progress(data: ExplorerData, index: number): { computed: Set<string>; graded: Set<string> } {
  const computed = new Set<string>();
  const graded = new Set<string>();
  for (const t of Object.values(data.tensors)) if (t.role !== 'intermediate' && t.role !== 'output') computed.add(t.key);
  data.steps.slice(0, index + 1).forEach((step) => {
    if (step.kind === 'forward') computed.add(data.ops[step.op].output);
    else graded.add(step.tensor);
  });
  return { computed, graded };
}

/** The heading and lines a step shows in the panel. */
export function describeStep(data: ExplorerData, index: number): { heading: string; lines: string[]; tensor: string; values: ValueSnapshot | null; valuesCaption: string } {
  const step = data.steps[index];
  const where = `Step ${index + 1} of ${data.steps.length}`;
  if (step.kind === 'forward') {
    const op = data.ops[step.op];
    const output = data.tensors[op.output];
    const inputs = op.inputs.map((i) => data.tensors[i.tensor].label).join(', ');
    return {
      heading: `${where} · forward: ${op.label}`,
      lines: [`${op.label} computes ${output.label} (${formatDims(output.shape, data.dims)}) from ${inputs}.`],
      tensor: output.key,
      values: output.value,
      valuesCaption: `${output.label} =`,
    };
  }
  if (step.kind === 'seed') {
    const t = data.tensors[step.tensor];
    return {
      heading: `${where} · backward starts: ${gradientName(t.label)}`,
      lines: [`The backward pass starts from the upstream gradient ${gradientName(t.label)} of the output ${t.label}.`],
      tensor: t.key,
      values: t.grad,
      valuesCaption: `${gradientName(t.label)} =`,
    };
  }
  const op = data.ops[step.op];
  const t = data.tensors[step.tensor];
  const input = op.inputs.find((i) => i.tensor === step.tensor)!;
  const name = gradientName(t.label);
  const lines = [`${op.label} passes ${step.parts > 1 ? `part ${step.part} of ${step.parts} of ` : ''}${name} back to ${t.label}.`];
  const formula = formulaFor(op, input);
  if (formula) lines.push(`${step.parts > 1 ? `part of ${name}` : name} = ${formula}`);
  if (step.parts > 1) {
    lines.push(step.part === step.parts
      ? `${t.label} used by ${step.parts} steps: its gradient is the sum of the ${step.parts} parts, now complete.`
      : `${t.label} used by ${step.parts} steps: running sum of ${step.part} of ${step.parts} parts so far.`);
  }
  return {
    heading: `${where} · backward: ${op.label} → ${t.label}`,
    lines,
    tensor: t.key,
    values: input.gradient,
    valuesCaption: step.parts > 1 ? `part ${step.part} of ${name} =` : `${name} =`,
  };
}

/** Rows × columns of a tensor's values: the last axis across, every other axis down. */
export function grid(shape: readonly number[]): { rows: number; columns: number } {
  const columns = shape.length === 0 ? 1 : shape[shape.length - 1];
  const size = shape.reduce((a, b) => a * b, 1);
  return { rows: columns === 0 ? 0 : size / columns, columns };
}

/** Text for each cell of a table, one formatter for the whole tensor. */
export function tableCells(values: readonly number[], shape: readonly number[]): string[][] {
  const { rows, columns } = grid(shape);
  const format = numberFormat(values);
  const cells: string[][] = [];
  for (let r = 0; r < rows; r++) cells.push(values.slice(r * columns, (r + 1) * columns).map(format));
  return cells;
}

/** A diverging colour for a heatmap cell: blue below zero, white at zero, red above. */
export function heatColor(value: number, largest: number): string {
  if (!Number.isFinite(value)) return 'rgb(0, 0, 0)';
  const t = largest === 0 ? 0 : Math.max(-1, Math.min(1, value / largest));
  const fade = (channel: number) => Math.round(255 - (255 - channel) * Math.abs(t));
  return t >= 0 ? `rgb(${fade(192)}, ${fade(57)}, ${fade(43)})` : `rgb(${fade(41)}, ${fade(98)}, ${fade(184)})`;
}

/** How a snapshot is shown: a table of numbers, a heatmap, or only its summary when the values were not kept. */
export function valuesView(snapshot: ValueSnapshot): 'table' | 'heatmap' | 'summary' {
  if (snapshot.values === null) return 'summary';
  return snapshot.values.length <= TABLE_LIMIT ? 'table' : 'heatmap';
}

/** One line: `mean 0.00  std 1.00  min −1.73  max 1.73`. */
export function summaryLine(snapshot: ValueSnapshot): string {
  const { summary } = snapshot;
  if (summary === null) return '(empty)';
  const format = numberFormat([summary.mean, summary.std, summary.min, summary.max]);
  return `mean ${format(summary.mean)}  std ${format(summary.std)}  min ${format(summary.min)}  max ${format(summary.max)}`;
}

/** The tensor's heading: `σ · 1×D · intermediate`. */
export function tensorHeading(data: ExplorerData, t: ExplorerTensor): string {
  return `${t.label} · ${formatDims(t.shape, data.dims)}${t.shape.length > 0 ? ` (${t.shape.join('×')})` : ''} · ${t.role}`;
}

/** The lines an op shows: its primitive, settings, scope and the local gradient of each input. */
export function describeOp(data: ExplorerData, key: string): { heading: string; lines: string[]; formulas: string[] } {
  const op = data.ops[key];
  const output = data.tensors[op.output];
  const lines = [
    `primitive ${op.op}${op.detail === '' ? '' : ` (${op.detail})`}${op.scope.length > 0 ? ` in ${op.scope.join(' › ')}` : ''}`,
    `${output.label} = ${op.label}(${op.inputs.map((i) => `${i.arguments.join(', ')}: ${data.tensors[i.tensor].label}`).join('; ')})`,
  ];
  const formulas = op.inputs.flatMap((input) => {
    const t = data.tensors[input.tensor];
    if (!t.requiresGrad) return [];
    const given = formulaFor(op, input);
    // Until the op table carries a formula, the chain rule through this op, which always holds.
    const local = given ?? `${gradientName(output.label)} · ∂${wrapCompound(output.label)}/∂${wrapCompound(t.label)}`;
    return [`${gradientName(t.label)} ${isShared(data, t.key) ? '+=' : '='} ${local}`];
  });
  return { heading: `${op.label} · op`, lines, formulas };
}

/** The op table's formula for what an op passes back to one input: a sum when it is passed twice (`x * x`). */
function formulaFor(op: ExplorerOp, input: ExplorerInput): string | null {
  const parts = input.positions.map((i) => op.formulas?.[i]);
  return parts.length > 0 && parts.every((part) => part !== undefined) ? parts.join(' + ') : null;
}

/** Whether a tensor feeds several ops, so its gradient gathers parts. */
function isShared(data: ExplorerData, key: string): boolean {
  let users = 0;
  for (const op of Object.values(data.ops)) if (op.inputs.some((i) => i.tensor === key)) users++;
  return users > 1;
}
