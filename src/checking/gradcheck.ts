import { grad } from '../autograd/engine.js';
import { Random } from '../tensor/random.js';
import { formatShape, unravelIndex, type Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { describeValue } from '../validate.js';

/*
 * Numerical gradient checking by central differences, in the manner of
 * torch.autograd.gradcheck: compare the analytic Jacobian with (f(x+eps) - f(x-eps)) / 2eps,
 * element by element (full mode), or through random projections vᵀJu (fast mode).
 */

export type CheckedFunction = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** An element passes when |analytic - numeric| <= atol + rtol * |numeric|. */
  atol?: number;
  rtol?: number;
  /** Throw an Error carrying the report's text instead of returning a failed report. */
  raiseOnFailure?: boolean;
  /** Compare random projections vᵀJu instead of every Jacobian element (PyTorch's fast_mode). */
  fastMode?: boolean;
  /** Seed for fast mode's random directions (and gradgradcheck's gradOutputs). */
  seed?: number;
}

export interface WorstElement {
  /** Which output (for functions returning several) and the element of it. */
  output: number;
  outputIndex: number[];
  /** The element of the input. */
  inputIndex: number[];
  analytic: number;
  numeric: number;
}

export interface InputReport {
  /** Position of the input in the `inputs` list. */
  input: number;
  name: string;
  shape: Shape;
  passed: boolean;
  maxAbsError: number;
  /** max |a - n| / max(1e-8, |a| + |n|). */
  maxRelError: number;
  /** The element using the largest share of its tolerance |a - n| / (atol + rtol·|n|); null for an empty input. */
  worst: WorstElement | null;
  /** In fast mode: the projected derivative vᵀJu, analytic and numeric. */
  projection?: { analytic: number; numeric: number };
}

export interface GradcheckReport {
  passed: boolean;
  mode: 'full' | 'fast';
  options: { eps: number; atol: number; rtol: number };
  inputs: InputReport[];
  /** The report as a readable table. */
  message: string;
  toString(): string;
}

function resolveOptions(what: string, options: GradcheckOptions) {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  if (!(Number.isFinite(eps) && eps > 0)) throw new Error(`${what}: eps must be a finite number > 0, got ${describeValue(eps)}`);
  if (!(Number.isFinite(atol) && atol >= 0)) throw new Error(`${what}: atol must be a finite number >= 0, got ${describeValue(atol)}`);
  if (!(Number.isFinite(rtol) && rtol >= 0)) throw new Error(`${what}: rtol must be a finite number >= 0, got ${describeValue(rtol)}`);
  return { eps, atol, rtol, fastMode: options.fastMode ?? false, seed: options.seed ?? 0, raise: options.raiseOnFailure ?? false };
}

function callChecked(what: string, fn: CheckedFunction, inputs: Tensor[]): Tensor[] {
  const result = fn(...inputs);
  const outputs = result instanceof Tensor ? [result] : Array.isArray(result) ? [...result] : null;
  if (outputs === null || !outputs.every((t) => t instanceof Tensor)) {
    throw new Error(`${what}: the function must return a Tensor or an array of Tensors`);
  }
  return outputs;
}

/** Fresh leaves with the same values, so checking never touches the caller's tensors or their .grad. */
function cloneInputs(what: string, inputs: readonly Tensor[]): Tensor[] {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new Error(`${what}: inputs must be a non-empty array of Tensors`);
  return inputs.map((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${what}: input ${i} must be a Tensor, got ${typeof t}`);
    return new Tensor(Float64Array.from(t.data), t.shape, { requiresGrad: t.requiresGrad, name: t.name });
  });
}

/** Positions of the inputs to check: those that require grad, of which there must be one. */
function indicesRequiringGrad(what: string, inputs: readonly Tensor[]): number[] {
  const indices = inputs.flatMap((t, i) => (t.requiresGrad ? [i] : []));
  if (indices.length === 0) throw new Error(`${what}: no input has requiresGrad: true, so there is nothing to check`);
  return indices;
}

/** Central difference of every output, with `perturb` moving the inputs by ±eps and `restore` undoing it. */
function centralDifference(fn: CheckedFunction, inputs: Tensor[], perturb: (sign: 1 | -1) => void, restore: () => void, eps: number): Float64Array[] {
  const evaluate = (sign: 1 | -1) => {
    perturb(sign);
    try {
      // Recording stays on: gradgradcheck's fn calls grad() inside, which needs the graph.
      return callChecked('gradcheck', fn, inputs).map((t) => Float64Array.from(t.data));
    } finally {
      restore();
    }
  };
  const plus = evaluate(1);
  const minus = evaluate(-1);
  return plus.map((p, o) => p.map((value, k) => (value - minus[o][k]) / (2 * eps)));
}

class Tally {
  maxAbsError = 0;
  maxRelError = 0;
  passed = true;
  worst: WorstElement | null = null;
  private worstRatio = -Infinity;

  constructor(private readonly atol: number, private readonly rtol: number) {}

  add(analytic: number, numeric: number, where: () => Omit<WorstElement, 'analytic' | 'numeric'>): void {
    const error = Math.abs(analytic - numeric);
    const relative = error / Math.max(1e-8, Math.abs(analytic) + Math.abs(numeric));
    const allowed = this.atol + this.rtol * Math.abs(numeric);
    // How much of the tolerance this element uses; NaN never passes and counts as the worst.
    const ratio = Number.isNaN(error) ? Infinity : error === 0 ? 0 : error / allowed;
    if (!(error <= allowed)) this.passed = false;
    this.maxAbsError = Math.max(this.maxAbsError, Number.isNaN(error) ? Infinity : error);
    this.maxRelError = Math.max(this.maxRelError, Number.isNaN(relative) ? Infinity : relative);
    if (ratio > this.worstRatio) {
      this.worstRatio = ratio;
      this.worst = { ...where(), analytic, numeric };
    }
  }
}

/**
 * The analytic Jacobian rows of every output element with respect to each of `xs`: one backward
 * pass per output element, asking for all inputs at once, as a caller of `grad` would (asking
 * one input at a time could hide gradients that leak between inputs).
 */
function analyticJacobian(outputs: Tensor[], xs: Tensor[]): Float64Array[][][] {
  const rows = xs.map(() => outputs.map(() => [] as Float64Array[]));
  outputs.forEach((out, o) => {
    for (let k = 0; k < out.size; k++) {
      const seeds = outputs.map((t, j) => {
        const seed = new Float64Array(t.size);
        if (j === o) seed[k] = 1;
        return new Tensor(seed, t.shape);
      });
      grad(outputs, xs, { gradOutputs: seeds, allowUnused: true }).forEach((g, i) => rows[i][o].push(Float64Array.from(g.data)));
    }
  });
  return rows;
}

/** Fills `tally` comparing x's analytic Jacobian rows with central differences, column by column. */
function compareJacobian(fn: CheckedFunction, inputs: Tensor[], outputs: Tensor[], x: Tensor, analytic: Float64Array[][], eps: number, tally: Tally): void {
  // One pair of forward passes per input element gives one column.
  for (let j = 0; j < x.size; j++) {
    const original = x.data[j];
    const column = centralDifference(fn, inputs, (sign) => (x.data[j] = original + sign * eps), () => (x.data[j] = original), eps);
    column.forEach((values, o) => {
      values.forEach((numeric, k) => {
        tally.add(analytic[o][k][j], numeric, () => ({ output: o, outputIndex: unravelIndex(k, outputs[o].shape), inputIndex: unravelIndex(j, x.shape) }));
      });
    });
  }
}

/**
 * A random unit direction with entries ±1/√n (Rademacher). Unlike a Gaussian direction, every
 * element gets the same weight, so a wrong Jacobian element can never hide behind a coordinate
 * that happened to be drawn near zero.
 */
function randomDirection(random: Random, size: number): Float64Array {
  const magnitude = 1 / Math.sqrt(size || 1);
  const v = new Float64Array(size);
  for (let i = 0; i < size; i++) v[i] = random.uniform() < 0.5 ? -magnitude : magnitude;
  return v;
}

function dot(a: Float64Array, b: Float64Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] * b[i];
  return total;
}

/** Compares vᵀJu for a random direction u of x, given Jᵀv from the shared backward pass. */
function compareProjection(fn: CheckedFunction, inputs: Tensor[], x: Tensor, jtv: Tensor, v: Float64Array[], eps: number, random: Random, tally: Tally) {
  const u = randomDirection(random, x.size);
  const analytic = dot(jtv.data, u);
  const original = Float64Array.from(x.data);
  const ju = centralDifference(fn, inputs, (sign) => {
    for (let i = 0; i < x.size; i++) x.data[i] = original[i] + sign * eps * u[i];
  }, () => x.data.set(original), eps);
  const numeric = ju.reduce((total, values, o) => total + dot(values, v[o]), 0);
  tally.add(analytic, numeric, () => ({ output: -1, outputIndex: [], inputIndex: [] }));
  return { analytic, numeric };
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? '0' : Math.abs(value) >= 1e-3 && Math.abs(value) < 1e4 ? value.toPrecision(6).replace(/\.?0+$/, '') : value.toExponential(2);
}

export function formatReport(report: Omit<GradcheckReport, 'message' | 'toString'>): string {
  const { eps, atol, rtol } = report.options;
  const header = `gradcheck ${report.passed ? 'passed' : 'FAILED'} (${report.mode} mode, eps=${formatNumber(eps)}, atol=${formatNumber(atol)}, rtol=${formatNumber(rtol)})`;
  const rows = [['input', 'shape', 'max abs err', 'max rel err', 'result', 'worst element']];
  for (const r of report.inputs) {
    let worst = '';
    if (r.worst && r.worst.output >= 0) {
      worst = `output ${r.worst.output}${formatShape(r.worst.outputIndex)} w.r.t. ${r.name}${formatShape(r.worst.inputIndex)}: analytic ${formatNumber(r.worst.analytic)}, numeric ${formatNumber(r.worst.numeric)}`;
    } else if (r.projection) {
      worst = `vᵀJu: analytic ${formatNumber(r.projection.analytic)}, numeric ${formatNumber(r.projection.numeric)}`;
    }
    rows.push([r.name, formatShape(r.shape), formatNumber(r.maxAbsError), formatNumber(r.maxRelError), r.passed ? 'pass' : 'FAIL', worst]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
  return [header, ...lines].join('\n');
}

/**
 * Checks the gradient of every output of `fn` with respect to every input that requires grad.
 * Returns a report (and throws with its text when `raiseOnFailure` is set).
 */
export function gradcheck(fn: CheckedFunction, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  if (typeof fn !== 'function') throw new Error(`gradcheck: fn must be a function, got ${typeof fn}`);
  const { eps, atol, rtol, fastMode, seed, raise } = resolveOptions('gradcheck', options);
  const clones = cloneInputs('gradcheck', inputs);
  const checked = indicesRequiringGrad('gradcheck', clones);
  const outputs = callChecked('gradcheck', fn, clones);
  const xs = checked.map((i) => clones[i]);
  const random = new Random(seed);
  // Fast mode: one random v over the outputs and one backward pass give Jᵀv for every input.
  const v = outputs.map((t) => randomDirection(random, t.size));
  const jtv = fastMode ? grad(outputs, xs, { gradOutputs: v.map((values, o) => new Tensor(values, outputs[o].shape)), allowUnused: true }) : [];
  let jacobian: Float64Array[][][] | null = null;
  const jacobianOf = (position: number) => (jacobian ??= analyticJacobian(outputs, xs))[position];
  const reports = xs.map((x, position): InputReport => {
    const tally = new Tally(atol, rtol);
    let projection: InputReport['projection'];
    if (fastMode) {
      projection = compareProjection(fn, clones, x, jtv[position], v, eps, random, tally);
      // A failed projection says that something is wrong, not where: find the element.
      if (!tally.passed) {
        const located = new Tally(atol, rtol);
        compareJacobian(fn, clones, outputs, x, jacobianOf(position), eps, located);
        tally.worst = located.worst;
        tally.maxAbsError = Math.max(tally.maxAbsError, located.maxAbsError);
        tally.maxRelError = Math.max(tally.maxRelError, located.maxRelError);
      }
    } else {
      compareJacobian(fn, clones, outputs, x, jacobianOf(position), eps, tally);
    }
    const report: InputReport = {
      input: checked[position], name: x.name ?? `input ${checked[position]}`, shape: x.shape, passed: tally.passed,
      maxAbsError: tally.maxAbsError, maxRelError: tally.maxRelError, worst: tally.worst,
    };
    if (projection) report.projection = projection;
    return report;
  });
  const base = { passed: reports.every((r) => r.passed), mode: fastMode ? ('fast' as const) : ('full' as const), options: { eps, atol, rtol }, inputs: reports };
  const message = formatReport(base);
  const report: GradcheckReport = { ...base, message, toString: () => message };
  if (raise && !report.passed) throw new Error(message);
  return report;
}

/**
 * Checks second derivatives: gradcheck of (inputs, v) -> vᵀ ∂fn/∂inputs, where the gradient is
 * recorded with `createGraph`. The random gradOutputs v are checked as inputs too, like PyTorch.
 */
export function gradgradcheck(fn: CheckedFunction, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  resolveOptions('gradgradcheck', options);
  const clones = cloneInputs('gradgradcheck', inputs);
  const outputs = callChecked('gradgradcheck', fn, clones);
  const random = new Random((options.seed ?? 0) + 1);
  const gradOutputs = outputs.map((t, o) => {
    const values = new Float64Array(t.size);
    for (let k = 0; k < values.length; k++) values[k] = random.normal();
    return new Tensor(values, t.shape, { requiresGrad: true, name: `gradOutput ${o}` });
  });
  const differentiable = indicesRequiringGrad('gradgradcheck', clones);
  const first = (...all: Tensor[]) => {
    const xs = all.slice(0, clones.length);
    const vs = all.slice(clones.length);
    const ys = callChecked('gradgradcheck', fn, xs);
    return grad(ys, differentiable.map((i) => xs[i]), { gradOutputs: vs, createGraph: true, allowUnused: true });
  };
  const report = gradcheck(first, [...clones, ...gradOutputs], { ...options, raiseOnFailure: false });
  const message = report.message.replace(/^gradcheck/, 'gradgradcheck');
  const result: GradcheckReport = { ...report, message, toString: () => message };
  if (options.raiseOnFailure && !result.passed) throw new Error(message);
  return result;
}
