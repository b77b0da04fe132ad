import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { Tensor, setKernels, type KernelsName } from 'gradgraph';

/** A shape with 0 to `maxRank` axes of size 1 to `maxSize`. */
export const shapeArb = (maxRank = 3, maxSize = 4) => fc.array(fc.integer({ min: 1, max: maxSize }), { maxLength: maxRank });

/** A shape that broadcasts to `shape`: some axes set to 1, some leading axes dropped. */
export const broadcastableTo = (shape: readonly number[]) =>
  fc.tuple(fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }), fc.integer({ min: 0, max: shape.length }))
    .map(([ones, dropped]) => shape.map((d, i) => (ones[i] ? 1 : d)).slice(dropped));

/** A pair of shapes that broadcast together (either side may be the smaller one). */
export const broadcastPairArb = shapeArb().chain((shape) =>
  fc.tuple(broadcastableTo(shape), broadcastableTo(shape), fc.boolean()).map(([a, b, full]): [number[], number[]] => (full ? [shape, b] : [a, shape])),
);

/** Values for a shape, transformed by `away` to keep off an op's kinks and poles. */
export function valuesFor(shape: readonly number[], seed: number, away: (v: number) => number = (v) => v): Float64Array {
  let size = 1;
  for (const d of shape) size *= d;
  let s = seed >>> 0;
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    // A tiny LCG is enough here; the property test's seed drives it.
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = away((s / 2 ** 32) * 4 - 2);
  }
  return values;
}

export const awayFromZero = (v: number) => Math.sign(v || 1) * (Math.abs(v) + 0.25);
export const positive = (v: number) => Math.abs(v) + 0.5;

export function leaf(shape: readonly number[], seed: number, away?: (v: number) => number, name = 'x'): Tensor {
  return new Tensor(valuesFor(shape, seed, away), shape, { requiresGrad: true, name });
}

/** Naive reference: the value of a broadcast operand at an output multi-index. */
export function broadcastRead(t: { data: Float64Array; shape: readonly number[] }, index: readonly number[]): number {
  const offset = index.length - t.shape.length;
  let flat = 0;
  for (let axis = 0; axis < t.shape.length; axis++) {
    flat = flat * t.shape[axis] + (t.shape[axis] === 1 ? 0 : index[axis + offset]);
  }
  return t.data[flat];
}

export function allIndices(shape: readonly number[]): number[][] {
  let indices: number[][] = [[]];
  for (const d of shape) indices = indices.flatMap((prefix) => Array.from({ length: d }, (_, i) => [...prefix, i]));
  return indices;
}

/**
 * A character device like `/dev/full` (major 1, minor 7) inside a test's own folder, so that a
 * writer that wrongly replaces it replaces only that copy. Where mknod is not allowed, the
 * system's device itself, which a correct writer leaves alone.
 */
export function characterDevice(dir: string, name: string, minor: number, system: string): string {
  const path = join(dir, name);
  return spawnSync('mknod', [path, 'c', '1', String(minor)]).status === 0 ? path : system;
}

/** `fn` run on the kernels named (setKernels), the previous ones restored after. */
export function withKernels<T>(name: KernelsName, fn: () => T): T {
  const previous = setKernels(name);
  try {
    return fn();
  } finally {
    setKernels(previous);
  }
}

/** The same values to the bit, NaN and −0 included. */
export const sameBits = (a: Tensor, b: Tensor) => a.storage.length === b.storage.length && a.storage.every((v, i) => Object.is(v, b.storage[i]));
