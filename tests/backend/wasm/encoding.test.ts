import { describe, expect, it } from 'vitest';
import { signed, unsigned } from '../../../src/backend/wasm/encoding.js';
import { kernelModulesBytes, wasmSimdSupported } from '../../../src/backend/wasm/kernels.js';

describe('the WebAssembly encoder', () => {
  it('writes LEB128 as the spec\'s examples', () => {
    expect(unsigned(0)).toEqual([0]);
    expect(unsigned(127)).toEqual([0x7f]);
    expect(unsigned(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(signed(-1)).toEqual([0x7f]);
    expect(signed(63)).toEqual([0x3f]);
    expect(signed(64)).toEqual([0xc0, 0x00]);
    expect(signed(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('makes valid modules, each small enough for a browser to compile synchronously on its main thread (4 kB in Chromium)', () => {
    // wasmSimdSupported validates exactly these bytes.
    expect(wasmSimdSupported()).toBe(true);
    const modules = kernelModulesBytes();
    // The batch-norm passes, then the quotient and the one-pass moments, then the matrix product, then the dot products.
    expect(modules).toHaveLength(4);
    modules.forEach((bytes, i) => expect(bytes.length, `module ${i}`).toBeLessThan(4096));
  });
});
