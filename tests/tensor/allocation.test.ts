import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { zeroedValues } from '../../src/tensor/allocation.js';
import { wasmArena } from '../../src/backend/wasm/kernels.js';
import { UNSCOPED_BYTES } from '../../src/backend/wasm/arena.js';
import { withKernels } from '../helpers.js';
import {
  DEFAULT_MAX_ALLOCATION_BYTES, Linear, cat, getKernels, getMaxAllocationBytes, ones, randn, setMaxAllocationBytes, stack, tensor, tidy, where, zeros,
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
    // Ops whose result outgrows every operand name themselves too.
    const six = zeros([6]);
    expect(() => cat([six, six])).toThrow('cat: a result of shape [12] would need 96 bytes');
    expect(() => stack([six, six])).toThrow('stack: a result of shape [2, 6] would need 96 bytes');
    expect(() => where(zeros([6, 1]), zeros([1, 2]), 0)).toThrow('where: a result of shape [6, 2] would need 96 bytes');
    expect(() => new Linear(3, 4)).toThrow('Linear: a result of shape [3, 4] would need 96 bytes');
    expect(() => setMaxAllocationBytes(-1)).toThrow('setMaxAllocationBytes: bytes must be a non-negative integer, got -1');
    expect(() => setMaxAllocationBytes('1' as never)).toThrow('setMaxAllocationBytes: bytes must be a non-negative integer, got the string \'1\'');
  });

  it('names the op when the engine itself cannot allocate under a raised limit', () => {
    setMaxAllocationBytes(Number.MAX_SAFE_INTEGER);
    expect(() => zeros([2 ** 49])).toThrow(/^zeros: could not allocate 4\.00 PiB \(4,503,599,627,370,496 bytes\) for a result of shape \[562949953421312\]: /);
  });
});

describe('small buffers cut from shared slabs', () => {
  it('are zeroed and never overlap, whatever sizes are asked for in whatever order', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 300 }), (sizes) => {
      const buffers = sizes.map((size, i) => {
        const values = zeroedValues(size);
        expect(values.length).toBe(size);
        expect(values.every((v) => v === 0)).toBe(true);
        values.fill(i + 1);
        return values;
      });
      // Each keeps what was written into it: no later buffer was cut from the same bytes.
      buffers.forEach((values, i) => expect(values.every((v) => v === i + 1)).toBe(true));
    }), { numRuns: 200, seed: 12 });
  });

  it('back the results of ops, which keep their values while later results are made', () => {
    const x = tensor([1, 2, 3, 4], { requiresGrad: true });
    const results = Array.from({ length: 2000 }, (_, i) => x.mul(i));
    results.forEach((r, i) => expect(Array.from(r.data)).toEqual([i, 2 * i, 3 * i, 4 * i]));
  });
});

describe('large results in the WebAssembly kernels\' memory', () => {
  it('live there while those kernels are in use (from the pool\'s smallest size up), in ordinary arrays under the loops', () => {
    const arena = wasmArena();
    const wasm = getKernels() === 'wasm';
    expect(arena.owns(randn([64, 64]).storage)).toBe(wasm);
    expect(arena.owns(zeros([4096]).storage)).toBe(wasm);
    expect(arena.owns(randn([63, 64]).storage)).toBe(false);
    expect(withKernels('js', () => arena.owns(randn([64, 64]).storage))).toBe(false);
  });

  it('outside tidy() take at most UNSCOPED_BYTES of it; inside one, what is left', () => {
    const arena = wasmArena();
    const wasm = getKernels() === 'wasm';
    const length = 1 << 20; // 8 MiB
    const outside = Array.from({ length: UNSCOPED_BYTES / (8 * length) + 1 }, () => zeros([length]));
    const inArena = outside.filter((t) => arena.owns(t.storage)).length;
    // The earlier tests' results made outside tidy() may still hold some of the room.
    expect(inArena * 8 * length).toBeLessThanOrEqual(UNSCOPED_BYTES);
    expect(inArena).toBeGreaterThanOrEqual(wasm ? UNSCOPED_BYTES / (8 * length) - 1 : 0);
    tidy(() => {
      expect(arena.owns(zeros([length]).storage)).toBe(wasm);
    });
  });

  it('come back to it when tidy() ends, and are never reused once handed out through .data', () => {
    const arena = wasmArena();
    const before = arena.heldBytes();
    let handedOut: Float64Array | null = null;
    tidy(() => {
      randn([64, 64]).exp();
      handedOut = randn([64, 64]).data;
    });
    const wasm = getKernels() === 'wasm';
    // randn's result and exp's come back; the one handed out does not.
    expect(arena.heldBytes() - before).toBe(wasm ? 2 * 4096 * 8 : 0);
    const next = [randn([64, 64]), randn([64, 64]), randn([64, 64])].map((t) => t.storage);
    expect(next).not.toContain(handedOut);
  });
});
