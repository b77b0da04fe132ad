import { kernels, worthSimdKernels } from '../backend/index.js';
import { sameShape, type Shape } from '../tensor/shape.js';
import { addRowProductsInto, addRowsInto, blockRun, broadcastPattern, type RowGradientKernel } from './kernels.js';

/*
 * Passes over a full-size x with a row repeating along it (BN's statistics and parameters against
 * a batch) that go to the kernels: the ops x + row, x − row, x·row and x / row (rowAffine), mul's
 * and div's gradients against a row (rowGradients), and a gradient added in place (addRowInto).
 * x + row, x − row and x·row go as the kernels' per-channel affine store (x − shift)·scale +
 * offset, the other two parameters chosen so that every result is the op's to the bit:
 *   x − row = (x − row)·1 + (−0)    t·1 is t, and t + (−0) is t for every t, −0 and NaN included;
 *   x·row   = (x − 0)·row + (−0)    x − 0 is x, −0 included;
 *   x + row = (x − 0)·1 + row.
 * (With +0 for −0, a −0 result would come out +0.) x / row cannot be one of these (x·(1/row) rounds
 * differently), so it goes to the kernels' per-channel quotient. On WebAssembly each is one SIMD
 * sweep; on the JavaScript kernels, and for the other patterns, the op's own compiled loop runs.
 */

export type RowOp = 'add' | 'sub' | 'mul' | 'div';

/**
 * A row of `length` copies of 0, 1 or −0, the last one made for each kept: the kernels only read
 * their parameters, and at 64×64 making three a call took 5% of explicit BN's step.
 */
const constantRow = (() => {
  const last = new Map<string, Float64Array>();
  return (value: 0 | 1 | -0, length: number): Float64Array => {
    // A Map takes −0 and 0 for one key.
    const key = Object.is(value, -0) ? '-0' : String(value);
    let row = last.get(key);
    if (row === undefined || row.length !== length) last.set(key, (row = new Float64Array(length).fill(value)));
    return row;
  };
})();

/**
 * a op b through the kernels when b repeats along a full-size a, as a row ([C] against [N, C]) or
 * a block whose values each cover a run ([C, 1, 1] against [N, C, H, W]: the kernels' spatial
 * runs), else null.
 */
export function rowAffine(op: RowOp, a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, outShape: Shape): Float64Array | null {
  if (!worthSimdKernels(a.length) || !sameShape(aShape, outShape)) return null;
  const spatial = repeatedRun(bShape, outShape);
  return spatial === null ? null : onKernels(op, a, b, spatial);
}

/** a op b on the kernels in use, each of b's values over a run of `spatial` values of a, with the op's bits (see above). */
function onKernels(op: RowOp, a: Float64Array, b: Float64Array, spatial: number): Float64Array {
  if (op === 'div') return kernels().channelQuotient(a, b, spatial);
  const filled = (value: 0 | 1 | -0) => constantRow(value, b.length);
  const [shift, scale, offset] = op === 'sub' ? [b, filled(1), filled(-0)] : op === 'mul' ? [filled(0), b, filled(-0)] : [filled(0), filled(1), b];
  return kernels().channelAffine(a, shift, scale, offset, spatial);
}

/**
 * mul's or div's two gradients where a full-size operand meets a row (BN's γ·x̂ and x̂ = (x − μ)/σ)
 * through the kernels: g·row or g / row as the ops take it (onKernels), and Σ g·q
 * (channelProductSums), two SIMD sweeps in place of `loop`'s one pass in JavaScript, with its
 * bits. Elsewhere, `loop`.
 */
export function rowGradients(op: 'mul' | 'div', loop: RowGradientKernel): RowGradientKernel {
  return (g, row, q) => {
    if (!worthSimdKernels(g.length)) return loop(g, row, q);
    return { full: onKernels(op, g, row, 1), sums: kernels().channelProductSums(g, q, row.length) };
  };
}

/**
 * How `small` repeats along `full` when the kernels can take it: as a row (1) or as a block of
 * runs (their length), else null.
 */
export function repeatedRun(small: Shape, full: Shape): number | null {
  const pattern = broadcastPattern(small, full);
  return pattern === 'row' ? 1 : pattern === 'block' ? blockRun(small, full) : null;
}

/**
 * target += x·row, or target += row without x, in place (a gradient added into the gradient so
 * far), with each of row's values over a run of `run` values (repeatedRun): a row below the
 * kernels' threshold takes the ops' compiled row walks; everything else the kernels in use, whose
 * JavaScript loop also walks runs. The same bits either way.
 */
export function addRowInto(target: Float64Array, row: Float64Array, x?: Float64Array, run = 1): void {
  if (run > 1 || worthSimdKernels(target.length)) kernels().channelAddInto(target, row, x ?? null, run);
  else if (x === undefined) addRowsInto(target, row);
  else addRowProductsInto(target, x, row);
}
