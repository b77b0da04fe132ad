import type { Random } from '../tensor/random.js';
import { unravelIndex, type Shape } from '../tensor/shape.js';

/*
 * One vector-Jacobian product checked against central differences, with a tolerance taken from
 * an error estimate rather than a flat rtol: each derivative is measured with the steps h, 2h and
 * 4h, two Richardson extrapolations of them estimate the truncation error, and a bound on
 * rounding covers the rest. In float64 both are tiny (~1e-10), so an error of 1e-3 in one element stands out.
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
const SAFETY = 10;
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
}

/** Evaluates f at the current values of x (which the caller's closure reads), one array per output. */
export type Evaluate = () => readonly Float64Array[];

interface Move {
  /** Σ g·(f(x + step) − f(x)). */
  change: number;
  /** Σ |g|·(|f(x + step)| + |f(x)|) over the outputs that moved, and the same sum of squares. */
  scale: number;
  squares: number;
}

/** A bound on the rounding error of Σ g·Δf. */
function roundingOf({ scale, squares }: Move): number {
  return EPSILON * (ROUNDING_ULPS * Math.sqrt(squares) + SHARED_ULPS * scale);
}

function move(evaluate: Evaluate, base: readonly Float64Array[], upstream: readonly Float64Array[]): Move {
  let change = 0;
  let scale = 0;
  let squares = 0;
  evaluate().forEach((values, o) => {
    const before = base[o];
    const g = upstream[o];
    for (let k = 0; k < values.length; k++) {
      if (values[k] === before[k]) continue;
      change += g[k] * (values[k] - before[k]);
      const size = Math.abs(g[k]) * (Math.abs(values[k]) + Math.abs(before[k]));
      scale += size;
      squares += size * size;
    }
  });
  return { change, scale, squares };
}

/**
 * The directional derivative of s along the move `apply(step)`, its error bound, and the
 * one-sided slopes, which disagree by far more than the bound at a kink. Central differences
 * with steps h, 2h and 4h give two Richardson extrapolations; their difference bounds the
 * error of the better one (it is ~15 times that error for a smooth function).
 */
function differentiate(apply: (step: number) => void, h: number, evaluate: Evaluate, base: readonly Float64Array[], upstream: readonly Float64Array[]) {
  const at = (step: number) => {
    apply(step);
    return move(evaluate, base, upstream);
  };
  const [plus, minus, plus2, minus2, plus4, minus4] = [h, -h, 2 * h, -2 * h, 4 * h, -4 * h].map(at);
  apply(0);
  const d1 = (plus.change - minus.change) / (2 * h);
  const d2 = (plus2.change - minus2.change) / (4 * h);
  const d4 = (plus4.change - minus4.change) / (8 * h);
  const richardson1 = d1 + (d1 - d2) / 3;
  const richardson2 = d2 + (d2 - d4) / 3;
  // Rounding in Σ g·Δf, divided by the step: the extrapolation weighs d1 by 4/3 and d2 by 1/3.
  const rounding = (2 * Math.max(roundingOf(plus), roundingOf(minus)) + Math.max(roundingOf(plus2), roundingOf(minus2)) / 2) / h;
  return {
    numeric: richardson1,
    bound: Math.abs(richardson1 - richardson2) + SAFETY * rounding,
    forward: plus.change / h,
    backward: -minus.change / h,
  };
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

  add(element: ElementComparison, slopes: { forward: number; backward: number }): void {
    this.elements++;
    const { analytic, numeric, tolerance } = element;
    const error = Math.abs(analytic - numeric);
    const ratio = Number.isNaN(error) ? Infinity : error === 0 ? 0 : error / tolerance;
    let kind: 'pass' | 'fail' | 'kink' = error <= tolerance ? 'pass' : 'fail';
    if (kind === 'fail') {
      // At a kink the one-sided slopes jump, and a subgradient lies between them.
      const low = Math.min(slopes.forward, slopes.backward) - tolerance;
      const high = Math.max(slopes.forward, slopes.backward) + tolerance;
      if (Math.abs(slopes.forward - slopes.backward) > tolerance && analytic >= low && analytic <= high) kind = 'kink';
    }
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
    return { status, maxAbsError: this.maxAbsError, maxRelError: this.maxRelError, worst, elements: this.elements, failures: this.failures, kinks: this.kinks };
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
  let result;
  try {
    result = differentiate((step) => (x[j] = step === 0 ? original : original + step), h, evaluate, base, upstream);
  } finally {
    x[j] = original;
  }
  const tolerance = result.bound + ROUNDING_ULPS * EPSILON * Math.abs(analytic[j]) + floor;
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
  return tally.result();
}

/** Ranges this small are compared element by element. */
const LEAF_SIZE = 32;

/**
 * For a large x: compares the projection of `analytic` on a random ±1 direction u over all of
 * x with the derivative of s along u. Every element has weight 1 in u, so one wrong element
 * moves the projection by its whole error, however many elements x has. A projection that
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
  // Two directions over the whole input, so that two errors cancelling in one cannot hide.
  const visit = (start: number, end: number, directions = 1) => {
    if (end - start <= LEAF_SIZE) {
      for (let j = start; j < end; j++) compareElement(j, x, shape, analytic, evaluate, base, upstream, options.elementEps, floor, elements);
      return;
    }
    const u = new Float64Array(end - start);
    let projected = 0;
    let absolute = 0;
    for (let i = 0; i < u.length; i++) {
      u[i] = options.random.uniform() < 0.5 ? -1 : 1;
      projected += analytic[start + i] * u[i];
      absolute += Math.abs(analytic[start + i]);
    }
    let result;
    try {
      result = differentiate((step) => {
        for (let i = 0; i < u.length; i++) x[start + i] = original[start + i] + step * u[i];
      }, h, evaluate, base, upstream);
    } finally {
      x.set(original);
    }
    const tolerance = result.bound + ROUNDING_ULPS * EPSILON * absolute;
    const agrees = Math.abs(projected - result.numeric) <= tolerance;
    if (agrees) {
      projections.add({ inputIndex: [], analytic: projected, numeric: result.numeric, tolerance }, result);
      if (directions > 1) visit(start, end, directions - 1);
      return;
    }
    const middle = start + Math.floor((end - start) / 2);
    visit(start, middle);
    visit(middle, end);
  };
  visit(0, x.length, 2);
  const found = elements.result();
  if (found.status !== 'pass') return { ...found, elements: x.length };
  const passed = projections.result();
  return { ...passed, maxAbsError: Math.max(passed.maxAbsError, found.maxAbsError), maxRelError: Math.max(passed.maxRelError, found.maxRelError), elements: x.length };
}
