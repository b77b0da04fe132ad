import { describe, expect, it } from 'vitest';
import { miniBatches, twoMoons } from 'gradgraph';

describe('twoMoons', () => {
  it('gives n points [n, 2] and labels [n, 1], half of each class, on two half circles when noise is 0', () => {
    const { x, y } = twoMoons({ n: 20, noise: 0, seed: 1 });
    expect(x.shape).toEqual([20, 2]);
    expect(y.shape).toEqual([20, 1]);
    expect([...y.data].filter((label) => label === 1)).toHaveLength(10);
    for (let i = 0; i < 20; i++) {
      const [px, py] = [x.data[2 * i], x.data[2 * i + 1]];
      // Upper moon: the unit circle at the origin, y >= 0; lower: centred at (1, 0.5), y <= 0.5.
      const [cx, cy] = y.data[i] === 0 ? [0, 0] : [1, 0.5];
      expect(Math.hypot(px - cx, py - cy)).toBeCloseTo(1, 12);
      expect(y.data[i] === 0 ? py >= -1e-12 : py <= 0.5 + 1e-12).toBe(true);
    }
  });

  it('is the same for the same seed and different for another', () => {
    const a = twoMoons({ n: 30, seed: 4 });
    expect(twoMoons({ n: 30, seed: 4 }).x.data).toEqual(a.x.data);
    expect(twoMoons({ n: 30, seed: 5 }).x.data).not.toEqual(a.x.data);
    expect(() => twoMoons({ n: 1 })).toThrow(/twoMoons: n must be an integer >= 2, got 1/);
  });
});

describe('miniBatches', () => {
  it('covers every row once, in shuffled batches, dropping a last batch of one', () => {
    const data = twoMoons({ n: 11, seed: 2 });
    const batches = miniBatches(data, 5, { seed: 3 });
    expect(batches.map((b) => b.x.shape[0])).toEqual([5, 5]);
    const rows = batches.flatMap((b) => Array.from({ length: b.x.shape[0] }, (_, i) => `${b.x.data[2 * i]},${b.x.data[2 * i + 1]},${b.y.data[i]}`));
    const all = Array.from({ length: 11 }, (_, i) => `${data.x.data[2 * i]},${data.x.data[2 * i + 1]},${data.y.data[i]}`);
    expect(new Set(rows).size).toBe(10);
    expect(rows.every((row) => all.includes(row))).toBe(true);
    expect(miniBatches(data, 5, { seed: 3 })[0].x.data).toEqual(batches[0].x.data);
    expect(miniBatches(data, 5, { seed: 3, minLast: 1 }).map((b) => b.x.shape[0])).toEqual([5, 5, 1]);
  });
});
