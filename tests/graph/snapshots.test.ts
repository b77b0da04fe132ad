import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from 'gradgraph';
import { sharedRecords, snapshot, summarize } from '../../src/graph/snapshots.js';

/* What a trace keeps of a tensor's values: a copy, summarized; one frozen copy for one-element tensors alike. */

describe('snapshots', () => {
  it('summarizes values as mean, population std, min and max, and keeps them whole up to the limit', () => {
    expect(summarize([])).toBeNull();
    expect(summarize([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(1.25), min: 1, max: 4 });
    const t = tensor([1, 2, 3]);
    expect(snapshot(t, 3).values).toEqual([1, 2, 3]);
    expect(snapshot(t, 2).values).toBeNull();
  });

  it('shares records only between values and shapes that are the same, and they read as unshared ones would', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.double(), fc.constantFrom(0, -0, 2)), { minLength: 1, maxLength: 8 }), fc.nat({ max: 2 }), (numbers, limit) => {
      const shared = sharedRecords(limit);
      for (const n of numbers) {
        const t = tensor(n);
        expect(shared.snapshot(t)).toEqual(snapshot(t, limit));
        expect(shared.shape([n >= 0 ? 3 : 4])).toEqual([n >= 0 ? 3 : 4]);
      }
    }));
    const shared = sharedRecords(1);
    expect(shared.snapshot(tensor(2))).toBe(shared.snapshot(tensor(2)));
    expect(shared.snapshot(tensor(2))).not.toBe(shared.snapshot(tensor(3)));
    expect(Object.isFrozen(shared.shape([5]))).toBe(true);
    expect(shared.shape([2, 3])).not.toBe(shared.shape([2, 3]));
  });
});
