import { grad } from '../autograd/engine.js';
import { backwardPassCount, noGrad, restoringBuffers } from '../autograd/mode.js';
import { postOrder } from '../autograd/traversal.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/tidy.js';
import { expectFiniteNumber, expectFunction } from '../validate.js';
import { estimate, estimateEntry, estimateNearX, inGraph, randomDirection, SAFETY, sampleLevels, screenEntry, searchByHalving, settle, type Rounding, type Screening } from './differences.js';
import { FlatOutputs, Tally } from './tally.js';
import { checkRecordedOps, culprits } from './op-check.js';
import { formatReport, type GradcheckReport, type InputReport } from './report.js';

export type { GradcheckReport, InputReport, InputStatus, KinkElement, WorstElement } from './report.js';

/*
 * Numerical gradient checking, in the manner of torch.autograd.gradcheck: compare the analytic
 * Jacobian with finite differences element by element (full mode), or through a random
 * projection vᵀJu (fast mode). Unlike PyTorch, the tolerance of each element comes from an
 * estimate of its finite difference's own error (see differences.ts, which the per-op check shares), which in float64 is
 * around 1e-10, so a gradient that is wrong by 1e-3 in one element of thousands fails.
 */

export type CheckedFunction = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

export interface GradcheckOptions {
  /** Step of the finite differences, relative: an element x moves by eps·max(1, |x|). Default 2⁻¹⁷ ≈ 7.6e-6. */
  eps?: number;
  /** A flat tolerance |analytic − numeric| <= atol + rtol·|numeric| instead of the estimated one. */
  atol?: number;
  /** Added to the tolerance, times |numeric|. Default 0. */
  rtol?: number;
  /** Let an input the outputs do not depend on pass (it is reported as unused either way). */
  allowUnused?: boolean;
  /** Throw an Error carrying the report's text instead of returning a failed report. */
  raiseOnFailure?: boolean;
  /** Compare random projections vᵀJu instead of every Jacobian element (PyTorch's fast_mode). */
  fastMode?: boolean;
  /** Seed for fast mode's random directions (and gradgradcheck's gradOutputs). */
  seed?: number;
}

/** A power of two, so that x ± step and x ± 2·step are exact (short of a change of binade). */
const DEFAULT_STEP = 2 ** -17;

function resolveOptions(what: string, options: GradcheckOptions) {
  const eps = options.eps ?? DEFAULT_STEP;
  const { atol = null, rtol = 0 } = options;
  expectFiniteNumber(what, 'eps', eps, { min: 0, exclusiveMin: true });
  if (atol !== null) expectFiniteNumber(what, 'atol', atol, { min: 0 });
  expectFiniteNumber(what, 'rtol', rtol, { min: 0 });
  return {
    eps, atol, rtol, fastMode: options.fastMode ?? false, seed: options.seed ?? 0,
    raise: options.raiseOnFailure ?? false, allowUnused: options.allowUnused ?? false,
  };
}

type Resolved = ReturnType<typeof resolveOptions>;

function callChecked(what: string, fn: CheckedFunction, inputs: readonly Tensor[]): Tensor[] {
  const result = fn(...inputs);
  const outputs = result instanceof Tensor ? [result] : Array.isArray(result) ? [...result] : null;
  if (outputs === null || !outputs.every((t) => t instanceof Tensor)) {
    throw new Error(`${what}: the function must return a Tensor or an array of Tensors`);
  }
  return outputs;
}

function checkInputs(what: string, inputs: readonly Tensor[]): void {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new Error(`${what}: inputs must be a non-empty array of Tensors`);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${what}: input ${i} must be a Tensor, got ${typeof t}`);
  });
}

/** Positions of the inputs to check: those that require grad, of which there must be one. */
function indicesRequiringGrad(what: string, inputs: readonly Tensor[]): number[] {
  const indices = inputs.flatMap((t, i) => (t.requiresGrad ? [i] : []));
  if (indices.length === 0) throw new Error(`${what}: no input has requiresGrad: true, so there is nothing to check`);
  return indices;
}

/**
 * Runs `body` on the caller's own tensors, which it perturbs in place, and afterwards puts back
 * bit for bit their values, their `.grad`, and every module buffer written meanwhile (BatchNorm's
 * running statistics), also when the function throws.
 */
function onTheCallersTensors<T>(inputs: readonly Tensor[], body: () => T): T {
  const saved = inputs.map((t) => ({ data: Float64Array.from(t.storage), grad: t.grad }));
  try {
    return restoringBuffers(body);
  } finally {
    inputs.forEach((t, i) => {
      t.storage.set(saved[i].data);
      t.grad = saved[i].grad;
    });
  }
}

interface Context {
  /** f at the current values of the inputs, its outputs laid end to end in `into` (a new array unless given). */
  evaluate: (into?: Float64Array) => Float64Array;
  flat: FlatOutputs;
  center: Float64Array;
  magnitude: number;
  /**
   * Full mode: per output element i, Σ |J_ik|·|x_k| over the elements k of every checked input
   * (analytic J). See roundingOfRow.
   */
  conditioning: Float64Array | null;
  options: Resolved;
}

/**
 * The largest magnitude among the values the outputs were computed from (every tensor of the
 * recorded graph, outputs included): rounding acts on those, and an output that cancels (a
 * gradient BN makes zero, a difference of close values) carries the rounding of larger numbers
 * than its own.
 */
function largestMagnitude(tensors: readonly Tensor[]): number {
  let largest = 0;
  for (const t of tensors) {
    for (const value of t.storage) if (Math.abs(value) > largest) largest = Math.abs(value);
  }
  return largest;
}

/**
 * Σ_k |J_ik|·|x_k| for every output element i, over all the inputs `xs` and their Jacobians.
 * Rounding in the computation of f_i is, for an algorithm that is backward stable (as BN's is),
 * that of inputs moved by a few ulps each: ε·Σ_k |∂f_i/∂x_k|·|x_k|. Where f_i is ill-conditioned
 * (a BN channel whose values nearly coincide: x − μ cancels, and ∂(dx)/∂x ~ 1/σ² is large) this
 * is far larger than any value of the graph (a fused op keeps its 1/σ² to itself), and it is
 * what the finite differences of f_i actually see. A wrong analytic entry cannot hide behind it:
 * its own share of the tolerance is only SAFETY·ε/eps ≈ 3e-10 of itself.
 */
function conditioningOf(xs: readonly Tensor[], jacobians: readonly Float64Array[], rows: number): Float64Array {
  const out = new Float64Array(rows);
  xs.forEach((x, p) => {
    const jacobian = jacobians[p];
    const width = x.size;
    for (let i = 0; i < rows; i++) {
      let total = 0;
      for (let k = 0, entry = i * width; k < width; k++, entry++) total += Math.abs(jacobian[entry] * x.storage[k]);
      out[i] += total;
    }
  });
  return out;
}

/** The rounding known of output element i: the graph's largest value, or the conditioning of f_i, whichever is larger. */
function roundingOfRow(ctx: Context, i: number): Rounding {
  const conditioning = ctx.conditioning === null ? 0 : ctx.conditioning[i];
  return inGraph(Math.max(ctx.magnitude, Number.isFinite(conditioning) ? conditioning : 0));
}

/** Element scale max(1, |x|) rounded up to a power of two, so that steps stay exact. */
function scaleOf(value: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, Math.abs(value))));
}

/**
 * How the differences evaluate f. The numbers are those of the recorded call either way (every
 * forward kernel runs unrecorded), so they evaluate without recording the graph, which takes a
 * third of a call, unless f runs a backward pass inside (gradgradcheck's does, and there the
 * gradient needs the graph), or unrecorded it gives other values at x.
 */
function evaluation(fn: CheckedFunction, inputs: readonly Tensor[], flat: FlatOutputs, differentiatesInside: boolean): Pick<Context, 'evaluate' | 'center'> {
  // A call's tensors are dead once their values are copied out, and tidy() hands their buffers
  // to the next call: thousands of calls otherwise each write into fresh memory.
  const recorded = (into?: Float64Array) => tidy(() => flat.values(callChecked('gradcheck', fn, inputs), into));
  const center = flat.values();
  if (differentiatesInside) return { evaluate: recorded, center };
  const unrecorded = (into?: Float64Array) => noGrad(() => recorded(into));
  const same = unrecorded().every((value, k) => Object.is(value, center[k]) || value === center[k]);
  return same ? { evaluate: unrecorded, center } : { evaluate: recorded, center };
}

/**
 * The analytic Jacobian of every output element with respect to each of `xs`, one matrix per
 * input, row after row (row i: output element i): one backward pass per output element,
 * asking for all inputs at once, as a caller of `grad` would (asking one input at a time could
 * hide gradients that leak between inputs).
 */
function analyticJacobian(flat: FlatOutputs, xs: readonly Tensor[]): Float64Array[] {
  const matrices = xs.map((x) => new Float64Array(flat.size * x.size));
  // One set of seeds, a single 1 moved along: grad neither keeps nor changes them, and hands
  // out a copy of any gradient that shares a seed's buffer.
  const seeds = flat.tensors.map((t) => new Tensor(new Float64Array(t.size), t.shape));
  for (let position = 0; position < flat.size; position++) {
    const { output } = flat.locate(position);
    const seed = seeds[output].storage;
    const k = position - flat.offsets[output];
    seed[k] = 1;
    try {
      tidy(() => grad(flat.tensors, xs, { gradOutputs: seeds, allowUnused: true }).forEach((g, i) => matrices[i].set(g.storage, position * xs[i].size)));
    } finally {
      seed[k] = 0;
    }
  }
  return matrices;
}

/** Steps of the first stage (screenEntry), then of the rest of the full estimate: together `STEPS` of differences.ts. */
const SCREEN_STEPS = [1, -1, 2];
const REST_STEPS = [-2, 4, -4];

/** f with element j of x moved by t steps (in `into` if given); x is put back also when f throws. */
function movedBy(ctx: Context, x: Tensor, j: number, t: number, step: number, into?: Float64Array): Float64Array {
  const original = x.storage[j];
  try {
    x.storage[j] = original + t * step;
    return ctx.evaluate(into);
  } finally {
    x.storage[j] = original;
  }
}

/**
 * The full estimate of the entries `rows` of column j, from all six samples (the first stage's
 * three, `screened`, when the caller still has them), settled where needed (see settle) by
 * samples at h/2 and h/4, taken once for the column.
 */
function estimateColumn(ctx: Context, x: Tensor, j: number, step: number, rows: readonly number[], jacobian: Float64Array, tally: Tally, screened?: readonly Float64Array[]): void {
  const first = screened ?? SCREEN_STEPS.map((t) => movedBy(ctx, x, j, t, step));
  const moved = [...first, ...REST_STEPS.map((t) => movedBy(ctx, x, j, t, step))].map((values) => [values]);
  const level = sampleLevels({ base: [ctx.center], moved, step }, (h) => [movedBy(ctx, x, j, 1, h)]);
  for (const i of rows) tally.add(jacobian[i * x.size + j], settle(level, (samples) => estimateEntry(samples, 0, i, roundingOfRow(ctx, i))), j, i);
}

/**
 * Compares every entry of x's Jacobian (`jacobian`, row after row: row i holds the derivatives
 * of output element i) with differences. For each element j of x, three evaluations screen the
 * outputs they moved (screenEntry); an entry left undecided takes the other three, for the
 * full estimate. The outputs that did not move (most of them, for a function whose outputs
 * each depend on a few inputs) are read afterwards row by row, where the Jacobian lies in one
 * run: there the difference is exactly 0, and an analytic 0 agrees whatever the tolerance.
 */
function compareJacobian(ctx: Context, x: Tensor, jacobian: Float64Array, tally: Tally): void {
  const rows = Array.from({ length: ctx.center.length }, (_, i) => roundingOfRow(ctx, i));
  const screening: Screening = { numeric: 0, tolerance: 0 };
  const { center } = ctx;
  const width = x.size;
  const steps = new Float64Array(width);
  // The first stage's samples, one array per step, filled anew for each element of x.
  const screens = SCREEN_STEPS.map(() => new Float64Array(center.length));
  // Which entries moved, a bit each: those are compared already when the rows are read.
  const movedBits = new Uint32Array(Math.ceil((center.length * width) / 32));
  for (let j = 0; j < width; j++) {
    const step = (steps[j] = ctx.options.eps * scaleOf(x.storage[j]));
    const [plus, minus, plus2] = SCREEN_STEPS.map((t, k) => movedBy(ctx, x, j, t, step, screens[k]));
    const undecided: number[] = [];
    for (let i = 0; i < center.length; i++) {
      const before = center[i];
      if (plus[i] === before && minus[i] === before && plus2[i] === before) continue;
      const entry = i * width + j;
      movedBits[entry >>> 5] |= 1 << (entry & 31);
      const screened = screenEntry(before, plus[i], minus[i], plus2[i], step, rows[i], screening) && tally.addScreened(jacobian[entry], screening, true, j, i);
      if (!screened) undecided.push(i);
    }
    if (undecided.length > 0) estimateColumn(ctx, x, j, step, undecided, jacobian, tally, [plus, minus, plus2]);
  }
  // The entries that did not move: their analytic values should be 0. An analytic 0 there agrees
  // exactly, whatever its row's tolerance, so the first one of a column tells the tally all that
  // the others would.
  const zeroTallied = new Uint8Array(width);
  const left = new Map<number, number[]>();
  for (let i = 0; i < center.length; i++) {
    const before = center[i];
    for (let j = 0, entry = i * width; j < width; j++, entry++) {
      const analytic = jacobian[entry];
      if ((analytic === 0 && zeroTallied[j] === 1) || (movedBits[entry >>> 5] & (1 << (entry & 31))) !== 0) continue;
      const screened = screenEntry(before, before, before, before, steps[j], rows[i], screening) && tally.addScreened(analytic, screening, false, j, i);
      if (screened && analytic === 0) zeroTallied[j] = 1;
      if (!screened) {
        const rows = left.get(j) ?? [];
        rows.push(i);
        left.set(j, rows);
      }
    }
  }
  for (const [j, rows] of [...left].sort(([a], [b]) => a - b)) estimateColumn(ctx, x, j, steps[j], rows, jacobian, tally);
}

function dot(a: Float64Array, b: Float64Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] * b[i];
  return total;
}

/**
 * vᵀJu, analytic (from Jᵀv) and numeric (differences of vᵀf along u), where u has random signs
 * on the elements lo..hi−1 of x, each scaled like its own step, and is 0 elsewhere. A single
 * element is moved alone, by its own step, so the values are vᵀJ's entry for it.
 */
function projectedDifference(ctx: Context, x: Tensor, jtv: Tensor, v: Float64Array, random: Random, lo: number, hi: number) {
  const original = x.storage.slice(lo, hi);
  const single = hi - lo === 1;
  const u = single ? Float64Array.of(1) : randomDirection(random, hi - lo, (i) => scaleOf(original[i]));
  const step = single ? ctx.options.eps * scaleOf(original[0]) : ctx.options.eps;
  const analytic = dot(jtv.storage.subarray(lo, hi), u);
  const apply = (t: number) => {
    if (t === 0) x.storage.set(original, lo);
    else for (let i = 0; i < u.length; i++) x.storage[lo + i] = original[i] + t * u[i];
  };
  const d = estimateNearX(apply, step, () => [ctx.evaluate()], [ctx.center], (samples) => estimate(samples, [v], inGraph(ctx.magnitude)));
  // The analytic projection rounds like its terms, which may cancel.
  let terms = 0;
  for (let i = 0; i < u.length; i++) terms += Math.abs(jtv.storage[lo + i] * u[i]);
  return { analytic, d, terms };
}

/**
 * Fast mode for one input: compares vᵀJu on all of x. A failed projection says that something
 * is wrong, not where; the elements behind it are found by halving (group testing): only the
 * halves whose own projection fails are split further, down to single elements, so one wrong
 * element among n costs about 12·log₂(n) calls of the function instead of 6·n.
 */
function compareProjections(ctx: Context, x: Tensor, jtv: Tensor, v: Float64Array, random: Random, tally: Tally): InputReport['projection'] {
  tally.analyticNonzero = jtv.storage.some((value) => value !== 0);
  const whole = projectedDifference(ctx, x, jtv, v, random, 0, x.size);
  const projection = { analytic: whole.analytic, numeric: whole.d.numeric, tolerance: tally.toleranceFor(whole.analytic, whole.d, whole.terms) };
  const passes = ({ analytic, d, terms }: typeof whole) => tally.passes(analytic, d, terms);
  // A second direction over the whole input, so that errors that cancel along one cannot hide.
  const directions = x.size > 1 && passes(whole) ? [whole, projectedDifference(ctx, x, jtv, v, random, 0, x.size)] : [whole];
  tally.moved = directions.some(({ d }) => d.moved);
  if (x.size === 0 || directions.every(passes)) {
    for (const { analytic, d, terms } of directions) tally.add(analytic, d, -1, -1, terms);
    return projection;
  }
  const agrees = (lo: number, hi: number) => {
    const { analytic, d, terms } = projectedDifference(ctx, x, jtv, v, random, lo, hi);
    return tally.passes(analytic, d, terms);
  };
  const compareEach = (lo: number, hi: number) => {
    for (let j = lo; j < hi; j++) {
      const { analytic, d, terms } = projectedDifference(ctx, x, jtv, v, random, j, j + 1);
      tally.add(analytic, d, j, -1, terms);
    }
  };
  const middle = Math.floor(x.size / 2);
  searchByHalving(0, middle, 1, agrees, compareEach);
  searchByHalving(middle, x.size, 1, agrees, compareEach);
  return projection;
}

function inputReport(x: Tensor, input: number, tally: Tally, unreached: boolean, allowUnused: boolean): InputReport {
  const unused = unreached && !tally.moved && !tally.analyticNonzero;
  const failing = tally.failingElements.size;
  const kinks = [...tally.kinkElements].filter((j) => !tally.failingElements.has(j)).length;
  const status = unused ? 'unused' : failing > 0 ? 'fail' : kinks > 0 ? 'kink' : 'pass';
  return {
    input, name: x.name ?? `input ${input}`, shape: x.shape, status, passed: status === 'pass' || (unused && allowUnused),
    maxAbsError: tally.maxAbsError, maxRelError: tally.maxRelError, failing, kinks, total: x.size, worst: tally.worst, kink: tally.kink,
  };
}

/**
 * Checks the gradient of every output of `fn` with respect to every input that requires grad.
 * The inputs are perturbed in place, so a function that closes over them (a module's
 * parameters) is checked for real; they are restored bit for bit afterwards. Returns a report
 * (and throws with its text when `raiseOnFailure` is set).
 */
export function gradcheck(fn: CheckedFunction, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  expectFunction('gradcheck', 'fn', fn);
  const resolved = resolveOptions('gradcheck', options);
  checkInputs('gradcheck', inputs);
  const checked = indicesRequiringGrad('gradcheck', inputs);
  const { reports, outputs } = onTheCallersTensors(inputs, () => checkAll(fn, inputs, checked, resolved));
  const largestTolerance = Math.max(0, ...reports.map((r) => r.tolerance));
  const inputReports = reports.map((r) => r.report);
  // Something is wrong or unclear: check each recorded op on its own, to name the one to fix.
  const suspicious = inputReports.some((r) => r.status === 'fail' || r.status === 'kink');
  const opChecks = suspicious ? checkRecordedOps(outputs, { seed: resolved.seed }) : [];
  const base = {
    passed: inputReports.every((r) => r.passed) && inputReports.some((r) => r.status !== 'unused'),
    mode: resolved.fastMode ? ('fast' as const) : ('full' as const),
    options: { eps: resolved.eps, atol: resolved.atol, rtol: resolved.rtol },
    largestTolerance,
    inputs: inputReports,
    culprits: culprits(opChecks),
    kinkOps: opChecks.filter((c) => c.status === 'kink'),
  };
  const message = formatReport(base, SAFETY);
  const report: GradcheckReport = { ...base, message, toString: () => message };
  if (resolved.raise && !report.passed) throw new Error(message);
  return report;
}

function checkAll(fn: CheckedFunction, inputs: readonly Tensor[], checked: readonly number[], options: Resolved) {
  const passesBefore = backwardPassCount();
  const flat = new FlatOutputs(callChecked('gradcheck', fn, inputs));
  // An input is unused when the recorded graph does not reach it (and nothing moves numerically).
  const graph = postOrder(flat.tensors);
  const reachable = new Set(graph);
  const evaluated = evaluation(fn, inputs, flat, backwardPassCount() !== passesBefore);
  const xs = checked.map((i) => inputs[i]);
  const jacobians = options.fastMode ? [] : analyticJacobian(flat, xs);
  const conditioning = options.fastMode ? null : conditioningOf(xs, jacobians, flat.size);
  const ctx: Context = { ...evaluated, flat, magnitude: largestMagnitude(graph), conditioning, options };
  const random = new Random(options.seed, 'gradcheck');
  // Fast mode: one random v over the outputs and one backward pass give Jᵀv for every input.
  const v = randomDirection(random, flat.size, () => 1 / Math.sqrt(flat.size || 1));
  const jtv = options.fastMode
    ? grad(flat.tensors, xs, { gradOutputs: flat.tensors.map((t, o) => new Tensor(v.slice(flat.offsets[o], flat.offsets[o] + t.size), t.shape)), allowUnused: true })
    : [];
  const reports = xs.map((x, position) => {
    const tally = new Tally(options, x, flat);
    let projection: InputReport['projection'];
    if (options.fastMode) projection = compareProjections(ctx, x, jtv[position], v, random, tally);
    else compareJacobian(ctx, x, jacobians[position], tally);
    const report = inputReport(x, checked[position], tally, !reachable.has(x), options.allowUnused);
    if (projection) report.projection = projection;
    return { report, tolerance: tally.largestTolerance };
  });
  return { reports, outputs: flat.tensors };
}

/**
 * Checks second derivatives: gradcheck of (inputs, v) -> vᵀ ∂fn/∂inputs, where the gradient is
 * recorded with `createGraph`. The random gradOutputs v are checked as inputs too, like PyTorch.
 * An input whose second derivative is zero (fn linear in it) is allowed to be unused.
 */
export function gradgradcheck(fn: CheckedFunction, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  expectFunction('gradgradcheck', 'fn', fn);
  resolveOptions('gradgradcheck', options);
  checkInputs('gradgradcheck', inputs);
  const differentiable = indicesRequiringGrad('gradgradcheck', inputs);
  const outputs = onTheCallersTensors(inputs, () => callChecked('gradgradcheck', fn, inputs));
  const random = new Random((options.seed ?? 0) + 1);
  const gradOutputs = outputs.map((t, o) => {
    const values = new Float64Array(t.size);
    for (let k = 0; k < values.length; k++) values[k] = random.normal();
    return new Tensor(values, t.shape, { requiresGrad: true, name: `gradOutput ${o}` });
  });
  const first = (...all: Tensor[]) => {
    const xs = all.slice(0, inputs.length);
    const vs = all.slice(inputs.length);
    const ys = callChecked('gradgradcheck', fn, xs);
    return grad(ys, differentiable.map((i) => xs[i]), { gradOutputs: vs, createGraph: true, allowUnused: true });
  };
  const inner = gradcheck(first, [...inputs, ...gradOutputs], { ...options, allowUnused: true, raiseOnFailure: false });
  // fn must use an input (as gradcheck demands); its first derivative may be constant, as sign's is.
  const reachable = new Set(postOrder(outputs));
  const constant = inner.inputs.every((r) => r.status === 'unused') && differentiable.some((i) => reachable.has(inputs[i]));
  const report = { ...inner, passed: inner.passed || constant };
  const message = formatReport(report, SAFETY, 'gradgradcheck');
  const result: GradcheckReport = { ...report, message, toString: () => message };
  if (options.raiseOnFailure && !result.passed) throw new Error(message);
  return result;
}
