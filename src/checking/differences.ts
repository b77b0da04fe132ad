import type { Random } from '../tensor/random.js';
import { unravelIndex, type Shape } from '../tensor/shape.js';

/*
 * Finite differences with an error estimate, for every check of the library: gradcheck (Jacobian
 * entries, projections vᵀJu) and the per-op check (vector-Jacobian products, through
 * compareElements and compareProjections below). The tolerance is not a flat rtol: each
 * derivative is measured with the steps h, 2h and 4h, two Richardson extrapolations of them
 * estimate the truncation error, and a bound on rounding covers the rest. In float64 both are
 * tiny (~1e-10), so an error of 1e-3 in one element stands out; the same six samples tell a
 * kink from a wrong gradient.
 *
 * The scalar differentiated is s(x) = Σ g·f(x) for a fixed upstream gradient g, and it is taken
 * as Σ g·(f(x ± h) − f(x)) term by term: outputs the step does not touch contribute exactly 0,
 * so the rounding error is that of the few terms that move, not of the whole sum.
 */

/** The machine epsilon of float64. */
const EPSILON = 2 ** -52;
/**
 * Rounding of the moved terms, in ulps: each term may lose up to ROUNDING_ULPS (a reduction over
 * N adds ~N), independently of the others, so they add up like a random walk; errors shared by
 * every term (a rounded mean) add up linearly, but only a few ulps of each.
 */
const ROUNDING_ULPS = 64;
const SHARED_ULPS = 4;
/** How far past the error estimate a difference must be to count as wrong. */
export const SAFETY = 10;
/** The smallest change of slope, as a share of the slopes, that counts as a kink. */
const KINK_SHARE = 1e-6;
/** The sum of the weights of the samples in a kink's jump (see estimateFrom). */
const JUMP_WEIGHTS = 8;
/** Gradients below this fraction of the input's largest are compared absolutely. */
const FLOOR = 1e-9;

export type CheckStatus = 'pass' | 'fail' | 'kink';

export interface ElementComparison {
  /** The element of the input (empty for a projection on a random direction). */
  inputIndex: number[];
  analytic: number;
  /** Central difference with Richardson extrapolation. */
  numeric: number;
  /** How far apart the two may be, from the error estimate. */
  tolerance: number;
}

export interface Comparison {
  status: CheckStatus;
  /** Over the elements that are not at a kink; measured, not capped. */
  maxAbsError: number;
  /** |analytic − numeric| / max(|analytic|, |numeric|), 0 where both are 0. */
  maxRelError: number;
  /** The element using the largest share of its tolerance: a failing one first, else a kink. */
  worst: ElementComparison | null;
  elements: number;
  failures: number;
  kinks: number;
  /** f gave different values for the same x (random numbers inside?): no difference measures its gradient. */
  unstable: boolean;
}

/** Whether f still gives `base` at the unperturbed x; NaN counts as equal to NaN. */
function isStable(evaluate: Evaluate, base: readonly Float64Array[]): boolean {
  return evaluate().every((values, o) => values.every((v, k) => Object.is(v, base[o][k]) || v === base[o][k]));
}

/** Evaluates f at the current values of x (which the caller's closure reads), one array per output. */
export type Evaluate = () => readonly Float64Array[];

/** The multiples of the step h at which f is sampled: ±h, ±2h, ±4h. */
const STEPS = [1, -1, 2, -2, 4, -4];

/** f at x and at the six points x + t·h·d of STEPS, for the direction d that `apply` moves along. */
export interface Samples {
  readonly base: readonly Float64Array[];
  readonly moved: readonly (readonly Float64Array[])[];
  readonly step: number;
}

/** f at x moved by `step` (`apply(step)` sets x in place to x + step·d), x put back also when f throws. */
function sampleAt(apply: (step: number) => void, evaluate: Evaluate, step: number): Float64Array[] {
  try {
    apply(step);
    // Copies: an output may be a view of x itself (reshape), which the next step moves.
    return evaluate().map((values) => Float64Array.from(values));
  } finally {
    apply(0);
  }
}

/** Samples f along the move `apply(step)`; `apply(0)` puts x back, also when f throws. */
function sampleSteps(apply: (step: number) => void, h: number, evaluate: Evaluate, base: readonly Float64Array[]): Samples {
  return { base, moved: STEPS.map((t) => sampleAt(apply, evaluate, t * h)), step: h };
}

/**
 * The samples at h, h/2, h/4, ... (level 0, 1, 2, ...), each taken when first asked for, from
 * `first` and `at(step)`, f at x + step·d. Halving h is exact, so ±h and ±2h are ±2·(h/2) and
 * ±4·(h/2) bit for bit, and each level adds only f(x ± h/2).
 */
export function sampleLevels(first: Samples, at: (step: number) => readonly Float64Array[]): (level: number) => Samples {
  const levels = [first];
  const level = (k: number): Samples => (levels[k] ??= halved(level(k - 1)));
  const halved = (samples: Samples): Samples => {
    const step = samples.step / 2;
    const [plus, minus, plus2, minus2] = samples.moved;
    return { base: samples.base, moved: [at(step), at(-step), plus, minus, plus2, minus2], step };
  };
  return level;
}

/** How many times `settle` halves the step. */
export const HALVINGS = 2;

/**
 * The estimate at h (`level(0)`), unless the samples show a kink, or fit a smooth function only
 * by the h³ law: then the first estimate at h/2 or h/4 whose jumps are too small to tell. A kink
 * between 2h and 4h from x (relu at x = −3h) spoils only the ±4h samples while the derivative at
 * x is defined; at h/2 the samples reach 2h and miss it, and at h/4 one between h and 2h. A kink
 * may fit the h³ law at one step by the place it lies at (1.9h), and be taken for a pole, with
 * the pole's wide tolerance; it breaks the law at another step, and a pole never does. So: a
 * kink at x stays a kink, and so does a law that breaks.
 */
export function settle(level: (k: number) => Samples, estimateOf: (samples: Samples) => Estimate): Estimate {
  const first = estimateOf(level(0));
  if (first.smooth && !first.byGrowth) return first;
  let lawful = first.smooth;
  for (let k = 1; k <= HALVINGS; k++) {
    const closer = estimateOf(level(k));
    if (closer.smooth && !closer.byGrowth) return closer;
    lawful &&= closer.smooth;
  }
  return lawful ? first : { ...first, smooth: false, byGrowth: false };
}

/** `estimateOf` the samples along `apply`, settled (see settle) by samples at h/2 and h/4 where needed. */
export function estimateNearX(apply: (step: number) => void, h: number, evaluate: Evaluate, base: readonly Float64Array[], estimateOf: (samples: Samples) => Estimate): Estimate {
  return settle(sampleLevels(sampleSteps(apply, h, evaluate, base), (step) => sampleAt(apply, evaluate, step)), estimateOf);
}

interface Move {
  /** Σ g·(f(x + step) − f(x)). */
  change: number;
  /** Σ |g|·(|f(x + step)| + |f(x)|) over the outputs that moved, and the same sum of squares. */
  scale: number;
  squares: number;
  moved: boolean;
}

/**
 * What is known of the rounding in the sampled values. Seen alone (one op, in the per-op
 * check), each moved term may have lost `ulps` ulps and all of them together `sharedUlps` ulps of
 * their sum. A caller that sees the whole graph (gradcheck) knows `magnitude`, the largest value
 * the outputs were computed from: a value that cancels (a gradient BN makes zero, a difference of
 * close values) carries the rounding of that larger number, not of its own.
 */
export interface Rounding {
  ulps: number;
  sharedUlps: number;
  magnitude: number;
}

/** One op's values, seen alone. */
export const ALONE: Rounding = { ulps: ROUNDING_ULPS, sharedUlps: SHARED_ULPS, magnitude: 0 };

/** Values of a recorded graph whose largest value is `magnitude`: half an ulp each, and the magnitude's rounding. */
export function inGraph(magnitude: number): Rounding {
  return { ulps: 0.5, sharedUlps: 0, magnitude };
}

/** A bound on the rounding error of Σ g·Δf. */
function roundingOf({ scale, squares }: Move, rounding: Rounding): number {
  return EPSILON * (rounding.ulps * Math.sqrt(squares) + rounding.sharedUlps * scale);
}

/** Adds the term g·(after − before) to `move`. */
function addTerm(move: Move, g: number, after: number, before: number): void {
  if (after === before) return;
  move.moved = true;
  move.change += g * (after - before);
  const size = Math.abs(g) * (Math.abs(after) + Math.abs(before));
  move.scale += size;
  move.squares += size * size;
}

const noMove = (): Move => ({ change: 0, scale: 0, squares: 0, moved: false });

/**
 * The derivative of one number along the direction, with what is known of its error: the
 * number is Σ g·f over the outputs (a projection) or one output element.
 */
export interface Estimate {
  /** Central difference at h with Richardson extrapolation. */
  numeric: number;
  /** How far `numeric` may be from the derivative: |R(h) − R(2h)| plus SAFETY times rounding. */
  tolerance: number;
  /** Whether the one-sided slopes change with the step as a smooth function's do (see estimateFrom). */
  smooth: boolean;
  /**
   * Smooth only because the jumps grow as h³ (as near a pole), not because they are too small
   * to tell: a kink may happen to fit that law at one step, never at every step (see settle).
   */
  byGrowth: boolean;
  /** The lowest and highest one-sided slope over the three steps: a subgradient lies between. */
  low: number;
  high: number;
  /** The one-sided slopes at the step h. */
  fromRight: number;
  fromLeft: number;
  /** Whether any sampled value differs, bit for bit, from f(x). */
  moved: boolean;
}

/**
 * The derivative from the six moves: central differences with steps h, 2h and 4h give two
 * Richardson extrapolations; their difference bounds the error of the better one (it is ~15
 * times that error for a smooth function). What tells a kink from a wrong gradient: for a
 * smooth function the one-sided slopes part linearly with the step (by h·s''), so 2·(slope gap
 * at h) − (gap at 2h) is only the h³ term, and 8 times as large at (2h, 4h); a kink within the
 * steps leaves a jump that follows no such law. Smooth is true when the jumps are too small to
 * tell, or grow as h³ (near a pole, where every derivative is large).
 */
function estimateFrom(moves: readonly Move[], h: number, r: Rounding): Estimate {
  const [plus, minus, plus2, minus2, plus4, minus4] = moves;
  const d1 = (plus.change - minus.change) / (2 * h);
  const d2 = (plus2.change - minus2.change) / (4 * h);
  const d4 = (plus4.change - minus4.change) / (8 * h);
  const richardson1 = d1 + (d1 - d2) / 3;
  const richardson2 = d2 + (d2 - d4) / 3;
  // Rounding in Σ g·Δf, divided by the step: the extrapolation weighs d1 by 4/3 and d2 by 1/3.
  const rounding = Math.max(
    (2 * Math.max(roundingOf(plus, r), roundingOf(minus, r)) + Math.max(roundingOf(plus2, r), roundingOf(minus2, r)) / 2) / h,
    (EPSILON * r.magnitude) / h,
  );
  // 0 − change, not −change: a slope of +0, not −0, where nothing moved.
  const right = plus.change / h;
  const left = (0 - minus.change) / h;
  const right2 = plus2.change / (2 * h);
  const left2 = (0 - minus2.change) / (2 * h);
  const right4 = plus4.change / (4 * h);
  const left4 = (0 - minus4.change) / (4 * h);
  const jump = 2 * (right - left) - (right2 - left2);
  const jump2 = 2 * (right2 - left2) - (right4 - left4);
  const tolerance = Math.abs(richardson1 - richardson2) + SAFETY * rounding;
  const largest = Math.max(Math.abs(jump), Math.abs(jump2));
  // A kink changes the slope by a share of the slope itself; rounding (a sum that cancels in the
  // forward pass rounds to its inputs' scale, not its result's) only by a few ulps of it.
  const steepest = Math.max(Math.abs(right), Math.abs(left), Math.abs(right2), Math.abs(left2), Math.abs(right4), Math.abs(left4));
  // The jumps are sums of the samples with weights |2|+|2|+|3|+½+½ = 8 (jump; jump2 has 4), over
  // h: SAFETY times that much rounding of each sample, as the tolerance has SAFETY times its own.
  const perSample = Math.max(...moves.map((move) => roundingOf(move, r)), EPSILON * r.magnitude);
  const noise = Math.max(tolerance, KINK_SHARE * steepest, (SAFETY * JUMP_WEIGHTS * perSample) / h);
  const small = largest <= noise;
  const growsAsCube = Math.abs(jump2 - 8 * jump) <= 0.25 * Math.abs(jump2);
  return {
    numeric: richardson1,
    tolerance,
    smooth: small || growsAsCube,
    byGrowth: !small && growsAsCube,
    low: Math.min(right, left, right2, left2, right4, left4),
    high: Math.max(right, left, right2, left2, right4, left4),
    fromRight: right,
    fromLeft: left,
    moved: plus.moved || minus.moved || plus2.moved || minus2.moved || plus4.moved || minus4.moved,
  };
}

/** The derivative of s = Σ g·f along the sampled direction, for upstream gradients g (one array per output). */
export function estimate(samples: Samples, upstream: readonly Float64Array[], rounding: Rounding = ALONE): Estimate {
  const moves = samples.moved.map((values) => {
    const move = noMove();
    values.forEach((after, o) => {
      const before = samples.base[o];
      const g = upstream[o];
      for (let k = 0; k < after.length; k++) addTerm(move, g[k], after[k], before[k]);
    });
    return move;
  });
  return estimateFrom(moves, samples.step, rounding);
}

/** The derivative of element k of output o alone along the sampled direction: one entry of J·d. */
export function estimateEntry(samples: Samples, o: number, k: number, rounding: Rounding = ALONE): Estimate {
  const moves = samples.moved.map((values) => {
    const move = noMove();
    addTerm(move, 1, values[o][k], samples.base[o][k]);
    return move;
  });
  return estimateFrom(moves, samples.step, rounding);
}

/** What the first stage of a Jacobian entry found: the derivative, and its own tolerance (as Estimate's). */
export interface Screening {
  numeric: number;
  tolerance: number;
}

/**
 * The first stage of a Jacobian entry, from three evaluations where `estimateEntry` takes six:
 * f at x + h, x − h and x + 2h (f(x) is known). It says "smooth, and agrees" only where the
 * full estimate could say no more, and leaves everything else to the full estimate on all six
 * samples.
 *
 * The central difference d = (f(x+h) − f(x−h)) / 2h is off by h²f‴/6 + O(h⁴), and the third
 * difference Δ³ = f(x+2h) − 3f(x+h) + 3f(x) − f(x−h) = h³f‴ + O(h⁴) measures that, so
 * d − Δ³/6h is good to O(h³f⁗). A kink at x, a change of slope s, makes Δ³ = −s·h + h³f‴:
 * |Δ³|/h = |s| unless the curvature happens to cancel it. So the stage decides only when
 * |Δ³|/h is within SAFETY × rounding, the least change of slope the full estimate can call a
 * kink (its noise is at least its tolerance, which is at least SAFETY times a rounding no
 * smaller than this one, which leaves out the ±2h samples), and the analytic value must then
 * lie within that tolerance, less |Δ³|/6h, of d − Δ³/6h: so within the tolerance of both d
 * (what the full estimate takes a slight kink's derivative to be) and d − Δ³/6h (a smooth
 * function's). Thus:
 * - every kink at x that the full estimate reports goes to it, and is reported as one, also
 *   where the analytic value is the mean of the two slopes (abs at 0), which d alone matches
 *   (short of an h²f‴ equal to −s within the rounding, a coincidence of the step);
 * - a wrong gradient passes only if its error is within the full estimate's tolerance, short
 *   of the h³f⁗/12 left in d − Δ³/6h: with h²|f‴| at rounding level that is far below the
 *   tolerance unless f changes on a scale of h, where only an error equal to this step's
 *   own truncation could hide, and no analytic formula computes one;
 * - a kink elsewhere in reach leaves the derivative at x defined; it shows in |Δ³|/h or in
 *   analytic − (d − Δ³/6h) by a share of |s| that vanishes only as the kink nears x − h or
 *   x + 2h, the ends of the samples. There the full estimate, with its steps of 4h, may still
 *   say kink where this stage passes a derivative that is right at x.
 * Outputs that did not move at all give d = Δ³ = 0 and the same tolerance as the full estimate.
 * NaN and infinities are never screened (every comparison with them is false).
 */
export function screenEntry(before: number, plus: number, minus: number, plus2: number, h: number, r: Rounding, into: Screening): boolean {
  // Each sample rounds like one moved term of `estimate` (g = 1), and shares the magnitude's rounding.
  const ulps = EPSILON * (r.ulps + r.sharedUlps);
  const ofPlus = plus === before ? 0 : ulps * (Math.abs(plus) + Math.abs(before));
  const ofMinus = minus === before ? 0 : ulps * (Math.abs(minus) + Math.abs(before));
  const rounding = Math.max((2 * Math.max(ofPlus, ofMinus)) / h, (EPSILON * r.magnitude) / h);
  // Taken as moves from f(x), like `estimate`'s terms: an output that did not move gives exactly 0.
  const up = plus - before;
  const down = before - minus;
  const third = plus2 - before - 3 * up + down;
  if (!(Math.abs(third) / h <= SAFETY * rounding)) return false;
  into.numeric = (up + down) / (2 * h) - third / (6 * h);
  into.tolerance = SAFETY * rounding - Math.abs(third) / (6 * h);
  return true;
}

/**
 * pass, fail, or kink: the slopes jump where a smooth function's would not (so the numeric value
 * is no measurement, pass or fail), and the analytic value is a subgradient between them. A
 * wrong gradient of a curved function shows no jump.
 */
export function classify(analytic: number, e: Estimate, tolerance: number): CheckStatus {
  const kind: CheckStatus = Math.abs(analytic - e.numeric) <= tolerance ? 'pass' : 'fail';
  const between = analytic >= e.low - tolerance && analytic <= e.high + tolerance;
  return !e.smooth && (kind === 'pass' || between) ? 'kink' : kind;
}

/**
 * The tolerance of an analytic value against an estimate: the estimate's, plus rounding of the
 * analytic value itself, which is of the order of its terms (`terms`, for a projection Σ aᵢuᵢ).
 */
export function toleranceOf(analytic: number, e: Pick<Estimate, 'tolerance'>, terms = Math.abs(analytic)): number {
  return e.tolerance + ROUNDING_ULPS * EPSILON * terms;
}

class Tally {
  maxAbsError = 0;
  maxRelError = 0;
  failures = 0;
  kinks = 0;
  elements = 0;
  private worstFailure: { ratio: number; element: ElementComparison } | null = null;
  private worstKink: { ratio: number; element: ElementComparison } | null = null;
  private worstPass: { ratio: number; element: ElementComparison } | null = null;

  add(element: ElementComparison, estimated: Estimate): void {
    this.elements++;
    const { analytic, numeric, tolerance } = element;
    const error = Math.abs(analytic - numeric);
    const ratio = Number.isNaN(error) ? Infinity : error === 0 ? 0 : error / tolerance;
    const kind = classify(analytic, estimated, tolerance);
    const slot = kind === 'fail' ? 'worstFailure' : kind === 'kink' ? 'worstKink' : 'worstPass';
    const current = this[slot];
    if (current === null || ratio > current.ratio) this[slot] = { ratio, element };
    if (kind === 'kink') {
      this.kinks++;
      return;
    }
    if (kind === 'fail') this.failures++;
    const relative = error === 0 ? 0 : error / Math.max(Math.abs(analytic), Math.abs(numeric));
    this.maxAbsError = Math.max(this.maxAbsError, Number.isNaN(error) ? Infinity : error);
    this.maxRelError = Math.max(this.maxRelError, Number.isNaN(relative) ? Infinity : relative);
  }

  result(): Comparison {
    const status: CheckStatus = this.failures > 0 ? 'fail' : this.kinks > 0 ? 'kink' : 'pass';
    const worst = (this.worstFailure ?? this.worstKink ?? this.worstPass)?.element ?? null;
    return { status, maxAbsError: this.maxAbsError, maxRelError: this.maxRelError, worst, elements: this.elements, failures: this.failures, kinks: this.kinks, unstable: false };
  }
}

function largest(values: Float64Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

export interface CompareOptions {
  /** Step relative to max(1, |x|); h, 2h and 4h are all taken. */
  eps: number;
}

/** Compares element j of x, moving only it; x is left bit for bit as it was. */
function compareElement(j: number, x: Float64Array, shape: Shape, analytic: Float64Array, evaluate: Evaluate, base: readonly Float64Array[], upstream: readonly Float64Array[], eps: number, floor: number, tally: Tally): void {
  const original = x[j];
  const h = eps * Math.max(1, Math.abs(original));
  const result = estimateNearX((step) => (x[j] = step === 0 ? original : original + step), h, evaluate, base, (samples) => estimate(samples, upstream));
  const tolerance = toleranceOf(analytic[j], result) + floor;
  tally.add({ inputIndex: unravelIndex(j, shape), analytic: analytic[j], numeric: result.numeric, tolerance }, result);
}

/**
 * Compares `analytic` (gᵀJ for the input x) with central differences of every element of x.
 * x is changed in place while `evaluate` runs and is left bit for bit as it was.
 */
export function compareElements(x: Float64Array, shape: Shape, analytic: Float64Array, evaluate: Evaluate, upstream: readonly Float64Array[], options: CompareOptions): Comparison {
  const base = evaluate().map((values) => Float64Array.from(values));
  const tally = new Tally();
  const floor = FLOOR * largest(analytic);
  for (let j = 0; j < x.length; j++) compareElement(j, x, shape, analytic, evaluate, base, upstream, options.eps, floor, tally);
  return withStability(tally.result(), evaluate, base);
}

/** A comparison of a function that does not give the same values twice is a failure, whatever it measured. */
function withStability(result: Comparison, evaluate: Evaluate, base: readonly Float64Array[]): Comparison {
  return isStable(evaluate, base) ? result : { ...result, status: 'fail', unstable: true };
}

/**
 * Group testing: a range of x whose projection does not agree is split in halves, and only the
 * halves that do not agree in turn are split further, down to ranges of at most `leafSize`
 * elements, which `compareEach` compares element by element. One wrong element among n costs
 * about 2·log₂(n) projections instead of n elements.
 */
export function searchByHalving(lo: number, hi: number, leafSize: number, agrees: (lo: number, hi: number) => boolean, compareEach: (lo: number, hi: number) => void): void {
  if (hi - lo <= leafSize) {
    compareEach(lo, hi);
    return;
  }
  if (agrees(lo, hi)) return;
  const middle = lo + Math.floor((hi - lo) / 2);
  searchByHalving(lo, middle, leafSize, agrees, compareEach);
  searchByHalving(middle, hi, leafSize, agrees, compareEach);
}

/** Fraction bits of a random weight: 1 + k/1024, so that a step t·eps·weight·scale stays exact. */
const WEIGHT_BITS = 10;

/**
 * A random direction: per element a random sign times a weight in [1, 2), so that no element
 * hides behind a coordinate near zero, times `magnitude(i)`. Weights of ±1 alone (Rademacher)
 * let equal errors cancel: an elementwise gradient off by the same amount everywhere moves vᵀJu
 * by that amount times Σ±1, which is 0 for half the directions over two elements and a quarter
 * over sixteen. Random weights make an exact cancellation a coincidence of the lattice of
 * 2¹⁰ weights, and a second direction over the whole input (both compareProjections do) squares it.
 */
export function randomDirection(random: Random, size: number, magnitude: (i: number) => number): Float64Array {
  const v = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const weight = 1 + Math.floor(random.uniform() * 2 ** WEIGHT_BITS) / 2 ** WEIGHT_BITS;
    v[i] = (random.uniform() < 0.5 ? -weight : weight) * magnitude(i);
  }
  return v;
}

/** Ranges this small are compared element by element. */
const LEAF_SIZE = 32;

/**
 * For a large x: compares the projection of `analytic` on a random direction u over all of x
 * (see randomDirection) with the derivative of s along u. Every element has a weight of 1 to 2
 * in u, so one wrong element moves the projection by its whole error, however many elements x
 * has. A projection that
 * disagrees is split in halves until single elements are compared (with `elementEps`), which
 * finds a wrong element in ~2·log₂(n) projections and tells a kink from a wrong gradient.
 */
export function compareProjections(x: Float64Array, shape: Shape, analytic: Float64Array, evaluate: Evaluate, upstream: readonly Float64Array[], options: CompareOptions & { elementEps: number; random: Random }): Comparison {
  const base = evaluate().map((values) => Float64Array.from(values));
  const original = Float64Array.from(x);
  const h = options.eps * Math.max(1, largest(original));
  const floor = FLOOR * largest(analytic);
  const elements = new Tally();
  const projections = new Tally();
  const compareEach = (start: number, end: number) => {
    for (let j = start; j < end; j++) compareElement(j, x, shape, analytic, evaluate, base, upstream, options.elementEps, floor, elements);
  };
  const agrees = (start: number, end: number) => {
    const u = randomDirection(options.random, end - start, () => 1);
    let projected = 0;
    let absolute = 0;
    for (let i = 0; i < u.length; i++) {
      projected += analytic[start + i] * u[i];
      absolute += Math.abs(analytic[start + i] * u[i]);
    }
    const result = estimateNearX((step) => {
      if (step === 0) x.set(original);
      else for (let i = 0; i < u.length; i++) x[start + i] = original[start + i] + step * u[i];
    }, h, evaluate, base, (samples) => estimate(samples, upstream));
    const tolerance = toleranceOf(projected, result, absolute);
    const agreed = Math.abs(projected - result.numeric) <= tolerance;
    if (agreed) projections.add({ inputIndex: [], analytic: projected, numeric: result.numeric, tolerance }, result);
    return agreed;
  };
  // Two directions over the whole input, so that two errors cancelling in one cannot hide.
  const whole = (start: number, end: number) => agrees(start, end) && (end - start < x.length || agrees(start, end));
  searchByHalving(0, x.length, LEAF_SIZE, whole, compareEach);
  const found = elements.result();
  if (found.status !== 'pass') return withStability({ ...found, elements: x.length }, evaluate, base);
  const passed = projections.result();
  return withStability({ ...passed, maxAbsError: Math.max(passed.maxAbsError, found.maxAbsError), maxRelError: Math.max(passed.maxRelError, found.maxRelError), elements: x.length }, evaluate, base);
}
