import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_ALLOCATION_BYTES, getMaxAllocationBytes, ones, randn, setMaxAllocationBytes, tensor, zeros,
} from 'gradgraph';

/* Huge shapes are refused before anything is allocated, naming the op, the shape and the bytes. */

afterEach(() => {
  setMaxAllocationBytes(DEFAULT_MAX_ALLOCATION_BYTES);
});

describe('the allocation limit', () => {
  it('is 2 GiB by default', () => {
    expect(getMaxAllocationBytes()).toBe(2 ** 31);
  });

  it('refuses factories with a huge shape, naming the op, the shape and the bytes', () => {
    expect(() => zeros([1e6, 1e6])).toThrow(
      'zeros: a result of shape [1000000, 1000000] would need 7.28 TiB (8,000,000,000,000 bytes), more than the limit of 2.00 GiB (2,147,483,648 bytes) for one tensor; check the shape, or raise the limit with setMaxAllocationBytes()',
    );
    expect(() => randn([2 ** 53])).toThrow('randn: a result of shape [9007199254740992] would need 7.21e+16 bytes, more than the limit');
    expect(() => zeros([1e200, 1e200])).toThrow('zeros: a result of shape [1e+200, 1e+200] would need Infinity bytes, more than the limit');
    // 8 GB: this took 27 s before it was refused.
    const started = performance.now();
    expect(() => zeros([1e9])).toThrow('zeros: a result of shape [1000000000] would need 7.45 GiB (8,000,000,000 bytes)');
    expect(performance.now() - started).toBeLessThan(100);
    expect(() => ones([2 ** 28 + 1])).toThrow('ones: a result of shape [268435457] would need 2.00 GiB (2,147,483,656 bytes)');
  });

  it('refuses a broadcast and a matmul whose result is huge, though their operands are small', () => {
    const column = zeros([1e5, 1]);
    const row = zeros([1, 1e5]);
    expect(() => column.add(row)).toThrow('add: a result of shape [100000, 100000] would need 74.5 GiB (80,000,000,000 bytes), more than the limit');
    expect(() => column.mul(row.reshape([1, 1, 1e5]))).toThrow('mul: a result of shape [1, 100000, 100000] would need 74.5 GiB');
    expect(() => column.matmul(row)).toThrow('matmul: a result of shape [100000, 100000] would need 74.5 GiB (80,000,000,000 bytes)');
    expect(() => zeros([1, 3]).broadcastTo([1e9, 3])).toThrow('broadcastTo: a result of shape [1000000000, 3] would need 22.4 GiB');
    // The general (strided) broadcast path too.
    expect(() => zeros([1, 4e4, 1]).add(zeros([4e4, 1, 1]))).toThrow('add: a result of shape [40000, 40000, 1] would need 11.9 GiB');
  });

  it('is overridable, and a tensor that fits is made as before', () => {
    expect(setMaxAllocationBytes(80)).toBe(DEFAULT_MAX_ALLOCATION_BYTES);
    expect(zeros([10]).size).toBe(10);
    expect(() => zeros([11])).toThrow('zeros: a result of shape [11] would need 88 bytes, more than the limit of 80 bytes for one tensor');
    expect(() => tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])).toThrow('tensor: a result of shape [2, 6] would need 96 bytes');
    expect(() => setMaxAllocationBytes(-1)).toThrow('setMaxAllocationBytes: bytes must be a non-negative integer, got -1');
    expect(() => setMaxAllocationBytes('1' as never)).toThrow('setMaxAllocationBytes: bytes must be a non-negative integer, got string');
  });

  it('names the op when the engine itself cannot allocate under a raised limit', () => {
    setMaxAllocationBytes(Number.MAX_SAFE_INTEGER);
    expect(() => zeros([2 ** 49])).toThrow(/^zeros: could not allocate 4\.00 PiB \(4,503,599,627,370,496 bytes\) for a result of shape \[562949953421312\]: /);
  });
});
