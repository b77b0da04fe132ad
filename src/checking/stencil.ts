/*
 * Finite differences with an error estimate, so a check's tolerance is measured, not guessed.
 *
 * The function is sampled at x + t·d for t = −2s, −s, 0, s, 2s. From those five values:
 * - D(s) and D(2s), central differences at two steps, whose errors are about s²f‴/6 and 4s²f‴/6
 *   (truncation) plus rounding of order ε·|f|/s; their Richardson extrapolation (4D(s) − D(2s))/3
 *   is the numeric derivative, and |D(s) − D(2s)| (three times D(s)'s truncation error) bounds
 *   its error from above;
 * - the second-order one-sided differences, forward (f₀, f₁, f₂) and backward (f₀, f₋₁, f₋₂),
 *   agree to s³f⁗/2 on a smooth function and differ by the jump in slope when a kink (relu or
 *   abs at 0, a tie in max) lies within 2s: that is how a kink is told from a wrong gradient.
 * This is Richardson's and Ridders' idea (see JuliaDiff's FiniteDifferences.jl) cut down to the
 * two steps a check can afford per element.
 */

/** Outputs (all of them, concatenated) at the five points of the stencil. */
export interface Samples {
  readonly minus2: Float64Array;
  readonly minus1: Float64Array;
  readonly center: Float64Array;
  readonly plus1: Float64Array;
  readonly plus2: Float64Array;
}

/** How many times its estimated error a difference may be off before the element fails. */
export const SAFETY = 10;

/** The largest relative spread of the two central differences that still counts as smooth. */
const ROUGHNESS = 1e-3;

/** The derivative of one output element along the direction, with what is known of its error. */
export class Difference {
  numeric = 0;
  /** Estimated error bound of `numeric`: truncation (from the two steps) plus rounding. */
  error = 0;
  /** |D(s) − D(2s)|, the part of `error` that truncation (or a kink) causes. */
  spread = 0;
  /** The part that rounding causes: ε times the output's magnitude over the step. */
  rounding = 0;
  /** Second-order one-sided differences, from the right and from the left. */
  fromRight = 0;
  fromLeft = 0;
  /** |fromRight − fromLeft|: the jump in slope near a kink, tiny where f is smooth. */
  oneSidedGap = 0;
  /** Whether any of the four perturbed values differs, bit for bit, from the unperturbed one. */
  moved = false;
  /**
   * How large the derivative's terms are, for the smoothness test: a projection vᵀJu can be
   * small because its terms cancel while its curvature is that of the terms (default |numeric|).
   */
  termScale = 0;

  /**
   * Fills the fields for element `i` of the samples taken with step `step`. Rounding is about ε
   * times the numbers a value was computed from, which can be far larger than the value itself
   * (a sum that cancels): `magnitude` is a floor for them, such as the largest element of the
   * same output.
   */
  at(samples: Samples, i: number, step: number, magnitude = 0): this {
    const { minus2, minus1, center, plus1, plus2 } = samples;
    const m2 = minus2[i], m1 = minus1[i], c = center[i], p1 = plus1[i], p2 = plus2[i];
    const near = (p1 - m1) / (2 * step);
    const far = (p2 - m2) / (4 * step);
    this.numeric = (4 * near - far) / 3;
    const scale = Math.max(magnitude, Math.abs(m2), Math.abs(m1), Math.abs(c), Math.abs(p1), Math.abs(p2));
    this.rounding = (Number.EPSILON * scale) / step;
    this.spread = Math.abs(near - far);
    this.error = this.spread + this.rounding;
    this.fromRight = (-3 * c + 4 * p1 - p2) / (2 * step);
    this.fromLeft = (3 * c - 4 * m1 + m2) / (2 * step);
    this.oneSidedGap = Math.abs(-6 * c + 4 * (p1 + m1) - (p2 + m2)) / (2 * step);
    this.moved = m2 !== c || m1 !== c || p1 !== c || p2 !== c;
    this.termScale = Math.abs(this.numeric);
    return this;
  }

  /**
   * Whether differences cannot check this element: the function is not smooth at the scale of
   * the step. On a smooth function the one-sided differences differ by s³f⁗/2 and the central
   * ones by s²f‴/2, both around 1e-10 of the derivative's terms; near a kink the one-sided ones
   * differ by the jump in slope (on the kink) and the central ones by a share of it (within two
   * steps of it). More than ROUGHNESS of the terms, beyond rounding, is a kink or a function
   * that bends within some twenty steps; either way the spread no longer bounds the error, so
   * the element is not compared.
   */
  isKink(): boolean {
    return Math.max(this.oneSidedGap, this.spread) > ROUGHNESS * this.termScale + 4 * SAFETY * this.rounding;
  }
}

/** Calls `evaluate` at x + t·d for the four nonzero points, `move(t)` setting x in place. */
export function sampleAround(center: Float64Array, step: number, move: (t: number) => void, evaluate: () => Float64Array): Samples {
  const at = (t: number) => {
    move(t);
    return evaluate();
  };
  return { minus2: at(-2 * step), minus1: at(-step), center, plus1: at(step), plus2: at(2 * step) };
}
