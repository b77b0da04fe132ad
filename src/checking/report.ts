import { formatShape, type Shape } from '../tensor/shape.js';
import { describeCulprit, describeOp, formatNumber, type OpGradientCheck } from './op-check.js';

/* What a gradient check found, and the table `report.message` prints. */

/** One compared Jacobian entry (or, in fast mode, a projection: output -1, empty indices). */
export interface WorstElement {
  /** Which output (for functions returning several) and the element of it. */
  output: number;
  outputIndex: number[];
  /** The element of the input. */
  inputIndex: number[];
  analytic: number;
  numeric: number;
  /** The largest |analytic − numeric| this element was allowed. */
  tolerance: number;
}

/** An element sitting on or within the step of a kink, with the slopes seen on either side. */
export interface KinkElement extends WorstElement {
  fromRight: number;
  fromLeft: number;
}

/**
 * pass; fail: a wrong gradient; kink: every mismatch sits at a point where the function is not
 * differentiable, so differences cannot check it; unused: the outputs do not depend on it at all.
 */
export type InputStatus = 'pass' | 'fail' | 'kink' | 'unused';

export interface InputReport {
  /** Position of the input in the `inputs` list. */
  input: number;
  name: string;
  shape: Shape;
  status: InputStatus;
  passed: boolean;
  /** Largest |analytic − numeric| over the elements compared (kinks left out): measured, not capped. */
  maxAbsError: number;
  /** Largest |analytic − numeric| / max(|numeric|, tolerance) (kinks left out). */
  maxRelError: number;
  /** Elements of the input with a wrong gradient, and elements at a kink, out of `total`. */
  failing: number;
  kinks: number;
  total: number;
  /** The element using the largest share of its tolerance; null for an empty input. */
  worst: WorstElement | null;
  /** The first element found at a kink, when there is one. */
  kink: KinkElement | null;
  /** In fast mode: the projected derivative vᵀJu, analytic and numeric. */
  projection?: { analytic: number; numeric: number; tolerance: number };
}

export interface GradcheckReport {
  passed: boolean;
  mode: 'full' | 'fast';
  /** The step (relative: each element moves by eps·max(1, |x|)); atol null means estimated per element. */
  options: { eps: number; atol: number | null; rtol: number };
  /** The largest tolerance any element was given. */
  largestTolerance: number;
  inputs: InputReport[];
  /**
   * When an input fails or sits at a kink: the recorded ops whose own gradient is wrong (from
   * checkRecordedOps), which the message leads with; and the ops found at a kink.
   */
  culprits: OpGradientCheck[];
  kinkOps: OpGradientCheck[];
  /** The report as a readable table. */
  message: string;
  toString(): string;
}

/** Fast mode finds elements with the outputs still projected on v: their output reads vᵀJ. */
function describeElement(name: string, e: WorstElement): string {
  return `${e.output >= 0 ? `output ${e.output}${formatShape(e.outputIndex)}` : 'vᵀJ'} w.r.t. ${name}${formatShape(e.inputIndex)}`;
}

type ReportData = Omit<GradcheckReport, 'message' | 'toString'>;

function header(report: ReportData, safety: number, title: string): string {
  const { eps, atol, rtol } = report.options;
  const tolerance = atol === null
    ? `tolerance ${safety} × estimated error, up to ${formatNumber(report.largestTolerance)}${rtol > 0 ? ` + rtol ${formatNumber(rtol)}·|numeric|` : ''}`
    : `tolerance atol ${formatNumber(atol)} + rtol ${formatNumber(rtol)}·|numeric|`;
  return `${title} ${report.passed ? 'passed' : 'FAILED'} (${report.mode} mode, step ${formatNumber(eps)}·max(1, |x|), ${tolerance})`;
}

function worstCell(r: InputReport): string {
  if (r.status === 'unused' || r.status === 'kink') return '';
  if (r.projection && r.status === 'pass') return `vᵀJu: analytic ${formatNumber(r.projection.analytic)}, numeric ${formatNumber(r.projection.numeric)}`;
  if (r.worst) return `${describeElement(r.name, r.worst)}: analytic ${formatNumber(r.worst.analytic)}, numeric ${formatNumber(r.worst.numeric)}`;
  return '';
}

/** The sentences under the table: what an unused input or a kink means and what to do. */
function notes(report: ReportData): string[] {
  const lines: string[] = [];
  for (const r of report.inputs) {
    if (r.status === 'unused') {
      lines.push(`${r.name}: unused: the outputs' graph does not reach ${r.name}, no output changes when it moves, and its analytic gradient is exactly zero${r.passed ? ' (allowed by allowUnused)' : '; pass allowUnused: true if that is intended'}.`);
    }
    if (r.kink) {
      const k = r.kink;
      lines.push(
        `${r.name}: ${r.kinks} of ${r.total} element(s) sit on or within a step of a kink, first ${describeElement(r.name, k)}: ` +
        `slope from the left ${formatNumber(k.fromLeft)}, from the right ${formatNumber(k.fromRight)}, analytic ${formatNumber(k.analytic)}. ` +
        'Differences cannot check a gradient there (it is a convention); move the input away from the kink.',
      );
    }
  }
  if (report.kinkOps.length > 0) lines.push(`At a kink: ${report.kinkOps.map((c) => `${describeOp(c)}, its input ${c.inputName}`).join('; ')}.`);
  if (report.inputs.some((r) => r.status === 'fail') && report.culprits.length === 0) {
    lines.push('Each recorded op\'s own gradient is right, so the wrong gradient comes from how they are put together (a gradient cut by detach or noGrad, a value read outside the graph).');
  }
  if (report.inputs.length > 0 && report.inputs.every((r) => r.status === 'unused')) {
    // Only gradgradcheck passes such a check: a first derivative that is constant (sign's is 0).
    lines.push(report.passed
      ? 'The first derivative depends on none of the inputs (it is constant), so there is nothing of second order to check.'
      : 'No input is used: the outputs depend on none of the inputs checked, so nothing was checked.');
  }
  return lines;
}

/** Culprits shown before the table; the rest are in `report.culprits`. */
const CULPRITS_SHOWN = 3;

export function formatReport(report: ReportData, safety: number, title = 'gradcheck'): string {
  const rows = [['input', 'shape', 'max abs err', 'max rel err', 'result', 'worst element', 'wrong elements']];
  for (const r of report.inputs) {
    rows.push([
      r.name, formatShape(r.shape), formatNumber(r.maxAbsError), formatNumber(r.maxRelError),
      r.passed ? (r.status === 'unused' ? 'unused' : 'pass') : r.status.toUpperCase(), worstCell(r), `${r.failing} of ${r.total}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
  const culprits = report.culprits.slice(0, CULPRITS_SHOWN).map((c) => `${describeCulprit(c)}.`);
  if (report.culprits.length > CULPRITS_SHOWN) culprits.push(`... and ${report.culprits.length - CULPRITS_SHOWN} more ops with a wrong gradient (report.culprits).`);
  return [...culprits, header(report, safety, title), ...lines, ...notes(report)].join('\n');
}
