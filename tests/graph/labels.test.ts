import { describe, expect, it } from 'vitest';
import { formatDims } from '../../src/graph/labels.js';

describe('formatDims', () => {
  it('names sizes by their letters, keeping shared sizes and every 1 as numbers', () => {
    expect(formatDims([4, 3], { N: 4, D: 3 })).toBe('N×D');
    expect(formatDims([1, 3], { N: 4, D: 3 })).toBe('1×D');
    expect(formatDims([3, 3], { N: 3, D: 3 })).toBe('3×3');
    // With D = 1, μ's [1, 1] is not "D×D".
    expect(formatDims([1, 1], { N: 2, D: 1 })).toBe('1×1');
    expect(formatDims([2, 1], { N: 2, D: 1 })).toBe('N×1');
    expect(formatDims([], { N: 2 })).toBe('scalar');
    expect(formatDims([5, 7])).toBe('5×7');
  });
});
