import { describeList, describeValue } from '../validate.js';

/** A tensor's shape: one size per axis, row-major. `[]` is a scalar. */
export type Shape = readonly number[];

export function formatShape(shape: Shape): string {
  if (!Array.isArray(shape)) throw new Error(`formatShape: shape must be an array, got ${describeValue(shape)}`);
  return `[${shape.join(', ')}]`;
}

export function sizeOf(shape: Shape): number {
  let size = 1;
  // Indexed rather than for-of: this runs several times per op, often before the JIT has optimised it.
  for (let i = 0; i < shape.length; i++) size *= shape[i];
  return size;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every element a non-negative integer: a plain loop, since this runs for every tensor made. */
function isValidShape(shape: unknown): boolean {
  if (!Array.isArray(shape)) return false;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    // Holes are skipped, as `every` skips them.
    if (!(typeof d === 'number' && Number.isInteger(d) && d >= 0) && i in shape) return false;
  }
  return true;
}

export function assertValidShape(op: string, shape: unknown): asserts shape is Shape {
  if (!isValidShape(shape)) {
    throw new Error(`${op}: shape must be an array of non-negative integers, got ${describeList(shape)}`);
  }
}

/**
 * NumPy broadcasting: shapes are aligned at their last axis and each pair of sizes must be
 * equal or contain a 1. The error message follows PyTorch's, naming both arguments.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape, names: readonly [string, string] = ['a', 'b']): number[] {
  const ndim = Math.max(a.length, b.length);
  const out = new Array<number>(ndim);
  for (let i = 1; i <= ndim; i++) {
    const da = i <= a.length ? a[a.length - i] : 1;
    const db = i <= b.length ? b[b.length - i] : 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: cannot broadcast ${names[0]} of shape ${formatShape(a)} with ${names[1]} of shape ${formatShape(b)}: ` +
          `size ${da} of ${names[0]} must match size ${db} of ${names[1]} at axis ${ndim - i} (counted from the left of the broadcast shape)`,
      );
    }
    out[ndim - i] = da === 1 ? db : da;
  }
  return out;
}

/** True when `from` can be broadcast to exactly `to` (not the other way round). */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const d = from[from.length - i];
    if (d !== 1 && d !== to[to.length - i]) return false;
  }
  return true;
}

/**
 * The axes of `to` along which `from` is broadcast (absent, or 1 against a larger size): the
 * axes its gradient is summed over. `from` must broadcast to `to`.
 */
export function broadcastAxes(from: Shape, to: Shape): number[] {
  const offset = to.length - from.length;
  const axes: number[] = [];
  for (let axis = 0; axis < to.length; axis++) {
    if (axis < offset || (from[axis - offset] === 1 && to[axis] !== 1)) axes.push(axis);
  }
  return axes;
}

/**
 * Strides of `shape` read as if broadcast to `outShape`: axes that are broadcast get stride 0.
 * This is how one kernel reads every broadcasting pattern without copying.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  const strides = new Array<number>(outShape.length).fill(0);
  for (let axis = 0; axis < shape.length; axis++) {
    strides[axis + offset] = shape[axis] === 1 ? 0 : own[axis];
  }
  return strides;
}

/** Normalises `axis` (number, list, negative allowed, or undefined for all) to sorted unique axes. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined, ndim: number): number[] {
  if (axis === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(list) && typeof axis !== 'number') {
    throw new Error(`${op}: axis must be a number or an array of numbers, got ${describeList(axis)}`);
  }
  const seen = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -ndim || a >= ndim) {
      throw new Error(`${op}: axis ${String(a)} is out of range for a tensor with ${ndim} dimension(s) (valid: ${-ndim} to ${ndim - 1})`);
    }
    const positive = a < 0 ? a + ndim : a;
    if (seen.has(positive)) throw new Error(`${op}: axis ${positive} is repeated in ${describeList(list)}`);
    seen.add(positive);
  }
  return [...seen].sort((x, y) => x - y);
}

/** The shape left after reducing `axes`, with the reduced axes kept as 1s or dropped. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let axis = 0; axis < shape.length; axis++) {
    if (!axes.includes(axis)) out.push(shape[axis]);
    else if (keepdims) out.push(1);
  }
  return out;
}

/** Row-major multi-index of a flat offset; used by error messages and reports. */
export function unravelIndex(offset: number, shape: Shape): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = offset % shape[axis];
    offset = Math.floor(offset / shape[axis]);
  }
  return index;
}

/** One axis (negative counts from the end) as a non-negative index, or an error naming `argument`. */
export function normalizeAxis(op: string, argument: string, axis: unknown, ndim: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new Error(`${op}: ${argument} must be an integer, got ${describeValue(axis)}`);
  }
  if (axis < -ndim || axis >= ndim) {
    const range = ndim === 0 ? 'it has no axes' : `valid: ${-ndim} to ${ndim - 1}`;
    throw new Error(`${op}: ${argument} ${axis} is out of range for a tensor with ${ndim} dimension(s) (${range})`);
  }
  return axis < 0 ? axis + ndim : axis;
}
