import { unravelIndex } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { KinkElement, WorstElement } from './report.js';
import { classify, toleranceOf, type Estimate, type Screening } from './differences.js';

/* The bookkeeping of a check: the outputs laid end to end, and what the comparisons found. */

/** The outputs of one call, concatenated, and where each output starts. */
export class FlatOutputs {
  readonly offsets: number[] = [];
  readonly size: number;

  constructor(readonly tensors: readonly Tensor[]) {
    let size = 0;
    for (const t of tensors) {
      this.offsets.push(size);
      size += t.size;
    }
    this.size = size;
  }

  /** The values of `tensors` laid end to end, in `into` (a new array unless given). */
  values(tensors: readonly Tensor[] = this.tensors, into: Float64Array = new Float64Array(this.size)): Float64Array {
    const shapesMatch = tensors.length === this.tensors.length && tensors.every((t, o) => t.size === this.tensors[o].size);
    if (!shapesMatch) throw new Error('gradcheck: the function returned outputs of other sizes when its inputs moved; it must return the same shapes every call');
    tensors.forEach((t, o) => into.set(t.storage, this.offsets[o]));
    return into;
  }

  /** Which output a flat position belongs to, and the index within it. */
  locate(position: number): { output: number; outputIndex: number[] } {
    let output = this.tensors.length - 1;
    while (this.offsets[output] > position) output--;
    return { output, outputIndex: unravelIndex(position - this.offsets[output], this.tensors[output].shape) };
  }
}

/** What the comparisons of one input found. */
export class Tally {
  maxAbsError = 0;
  maxRelError = 0;
  largestTolerance = 0;
  worst: WorstElement | null = null;
  kink: KinkElement | null = null;
  readonly failingElements = new Set<number>();
  readonly kinkElements = new Set<number>();
  /** Whether any output moved, and whether any analytic entry was nonzero: both false means unused. */
  moved = false;
  analyticNonzero = false;
  private worstRatio = -1;

  constructor(private readonly options: { readonly atol: number | null; readonly rtol: number }, private readonly x: Tensor, private readonly flat: FlatOutputs) {}

  /** The caller's atol, or the estimate's tolerance; plus rtol·|numeric|. `terms`: see toleranceOf. */
  toleranceFor(analytic: number, d: Pick<Estimate, 'numeric' | 'tolerance'>, terms?: number): number {
    return (this.options.atol ?? toleranceOf(analytic, d, terms)) + this.options.rtol * Math.abs(d.numeric);
  }

  /** Whether the element can be checked and agrees; false for a kink as for a wrong gradient. */
  passes(analytic: number, d: Estimate, terms?: number): boolean {
    return classify(analytic, d, this.toleranceFor(analytic, d, terms)) === 'pass';
  }

  /** Where an entry sits: an element of x (-1: all of it) and a flat output position (-1: projected on v). */
  private where(element: number, position: number): Omit<WorstElement, 'analytic' | 'numeric' | 'tolerance'> {
    const inputIndex = element >= 0 ? unravelIndex(element, this.x.shape) : [];
    return position >= 0 ? { ...this.flat.locate(position), inputIndex } : { output: -1, outputIndex: [], inputIndex };
  }

  add(analytic: number, d: Estimate, element: number, position: number, terms?: number): boolean {
    const tolerance = this.toleranceFor(analytic, d, terms);
    const status = classify(analytic, d, tolerance);
    this.moved ||= d.moved;
    this.analyticNonzero ||= analytic !== 0;
    if (status === 'kink') {
      this.kinkElements.add(element);
      this.kink ??= { ...this.where(element, position), analytic, numeric: d.numeric, tolerance, fromRight: d.fromRight, fromLeft: d.fromLeft };
      return false;
    }
    this.record(analytic, d.numeric, tolerance, status === 'pass', element, position);
    return status === 'pass';
  }

  /**
   * An entry the first stage screened (see screenEntry): counted as passed when it agrees within
   * the tolerance, else left alone (false) for the full estimate to judge.
   */
  addScreened(analytic: number, s: Screening, moved: boolean, element: number, position: number): boolean {
    const tolerance = this.toleranceFor(analytic, s);
    if (!(Math.abs(analytic - s.numeric) <= tolerance)) return false;
    this.moved ||= moved;
    this.analyticNonzero ||= analytic !== 0;
    this.record(analytic, s.numeric, tolerance, true, element, position);
    return true;
  }

  private record(analytic: number, numeric: number, tolerance: number, passed: boolean, element: number, position: number): void {
    this.largestTolerance = Math.max(this.largestTolerance, tolerance);
    const mismatch = Math.abs(analytic - numeric);
    // NaN never passes and counts as the worst.
    const error = Number.isNaN(mismatch) ? Infinity : mismatch;
    const relative = error === 0 ? 0 : error / Math.max(Math.abs(numeric), tolerance);
    this.maxAbsError = Math.max(this.maxAbsError, error);
    this.maxRelError = Math.max(this.maxRelError, Number.isNaN(relative) ? Infinity : relative);
    if (!passed) this.failingElements.add(element);
    const ratio = error === 0 ? 0 : error / tolerance;
    if (ratio > this.worstRatio) {
      this.worstRatio = ratio;
      this.worst = { ...this.where(element, position), analytic, numeric, tolerance };
    }
  }
}
