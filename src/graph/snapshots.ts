import type { Tensor } from '../tensor/tensor.js';
import type { Summary, ValueSnapshot } from './trace.js';

/* A tensor's values as the trace keeps them: copied when traced, so later changes do not show. */

/** Its summary, and every value when there are at most `valuesLimit`. */
export function snapshot(t: Tensor, valuesLimit: number): ValueSnapshot {
  // storage, not data: reading for a picture hands no buffer out (see autograd/saved.ts).
  const data = t.storage;
  return { summary: summarize(data), values: data.length <= valuesLimit ? copy(data) : null };
}

/**
 * The snapshots of one-element tensors and the shapes of rank 0 and 1, one frozen copy for all
 * alike: 100,000 uses of `x.mul(2)` make 100,000 constants 2 of shape [], and the chain
 * `acc = acc.add(x)` 100,000 results of shape [2]. Fewer objects to hold and to collect.
 */
export function sharedRecords(valuesLimit: number) {
  const scalars = new Map<number, ValueSnapshot>();
  const vectors = new Map<number, readonly number[]>();
  const noAxes: readonly number[] = Object.freeze([]);
  return {
    snapshot(t: Tensor): ValueSnapshot {
      const data = t.storage;
      // -0 would share the snapshot of 0, as a Map takes them for the same key.
      if (data.length !== 1 || Object.is(data[0], -0)) return snapshot(t, valuesLimit);
      let shared = scalars.get(data[0]);
      if (!shared) {
        const { summary, values } = snapshot(t, valuesLimit);
        shared = Object.freeze({ summary: summary && Object.freeze(summary), values: values && Object.freeze(values) });
        scalars.set(data[0], shared);
      }
      return shared;
    },
    shape(shape: readonly number[]): readonly number[] {
      if (shape.length === 0) return noAxes;
      if (shape.length > 1) return shape.slice();
      let shared = vectors.get(shape[0]);
      if (!shared) vectors.set(shape[0], (shared = Object.freeze([shape[0]])));
      return shared;
    },
  };
}

/** Array.from without the iterator it goes through, which a trace of 300,000 tensors notices. */
function copy(data: Float64Array): number[] {
  const values = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) values[i] = data[i];
  return values;
}

/** Mean, population standard deviation, min and max; null when there are no values. */
export function summarize(data: ArrayLike<number>): Summary | null {
  if (data.length === 0) return null;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    sum += data[i];
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  const mean = sum / data.length;
  let squares = 0;
  for (let i = 0; i < data.length; i++) squares += (data[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / data.length), min, max };
}
