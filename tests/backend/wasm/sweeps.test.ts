import { describe, expect, it } from 'vitest';
import { randn } from 'gradgraph';
import { sweepModuleBytes } from '../../../src/backend/wasm/sweeps.js';

/*
 * The storing sweeps run alone, on a memory laid out here: every value of the output equals the
 * JavaScript loops' expression bit for bit, and nothing outside the output changes. On [N, C]
 * they cover widths that do not divide into their steps by overlapping steps (storing some
 * values twice) and rows in turns of four, the last one to three rows padded with the last row
 * again (stored twice), so this checks every small width and row count up to two whole turns and
 * a part (none, on [N, C], too).
 */

/** The part of the WebAssembly API used here (the project's lib setting leaves out the types that declare it). */
const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: {
    Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: object };
  };
};

const GUARD = 8;
const SENTINEL = -12345.678;
/** The most rows tried: two turns of four and one more row. */
const ROWS = 9;

interface Layout { readonly first: number; readonly second: number; readonly out: number; readonly parameters: readonly number[]; readonly end: number }

/** In values: four parameter slots of `channels` (rounded up to pairs), the two input streams, then the output between guard values. */
function layout(size: number, channels: number): Layout {
  const slot = channels + (channels & 1);
  const parameters = [0, 1, 2, 3].map((k) => k * slot);
  const first = 4 * slot, second = first + size + (size & 1), out = second + size + (size & 1) + GUARD;
  return { first, second, out, parameters, end: out + size + GUARD };
}

describe('the storing sweeps', () => {
  it('store exactly the loops\' values, and nothing outside the output, at every small width and row count', () => {
    const largest = layout(ROWS * 11 * 3, 11);
    const memory = new wasm.Memory({ initial: Math.ceil((largest.end * 8) / 65_536) + 1 });
    const sweeps = new wasm.Instance(new wasm.Module(sweepModuleBytes()), { env: { memory } }).exports as Record<string, (...args: number[]) => void>;
    const heap = new Float64Array(memory.buffer);
    let seed = 1;
    for (const spatial of [1, 3]) {
      // runsCode, for [N, C, L], takes at least one row.
      for (let rows = spatial === 1 ? 0 : 1; rows <= ROWS; rows++) {
        for (let channels = 1; channels <= 11; channels++) {
          const size = rows * channels * spatial;
          const at = layout(size, channels);
          const x = randn([size], { seed: seed++ }).storage, g = randn([size], { seed: seed++ }).storage;
          const p = [0, 1, 2, 3].map(() => randn([channels], { seed: seed++ }).storage);
          heap.fill(SENTINEL, 0, at.end);
          heap.set(x, at.first);
          heap.set(g, at.second);
          p.forEach((values, k) => heap.set(values, at.parameters[k]));
          const [p0, p1, p2, p3] = at.parameters.map((values) => values * 8);
          const channelOf = (i: number) => Math.floor(i / spatial) % channels;
          const cases = [
            { name: 'affine', run: () => sweeps.affine(at.first * 8, 0, at.out * 8, 0, p0, p1, p2, 0, rows, channels, spatial, 4),
              expected: (i: number, c: number) => (x[i] - p[0][c]) * p[1][c] + p[2][c] },
            // inputGradient reads g as its first stream and x as its second, as the kernels call it.
            { name: 'inputGradient', run: () => sweeps.inputGradient(at.second * 8, at.first * 8, at.out * 8, 0, p0, p1, p2, p3, rows, channels, spatial, 4),
              expected: (i: number, c: number) => p[1][c] * g[i] + p[2][c] * (x[i] - p[0][c]) + p[3][c] },
          ];
          for (const { name, run, expected } of cases) {
            heap.fill(SENTINEL, at.out - GUARD, at.end);
            run();
            const where = `${name} on [${rows}, ${channels}, ${spatial}]`;
            for (let i = 0; i < size; i++) expect(Object.is(heap[at.out + i], expected(i, channelOf(i))), `${where}, value ${i}`).toBe(true);
            for (let i = 1; i <= GUARD; i++) {
              expect(heap[at.out - i], `${where}, ${i} before the output`).toBe(SENTINEL);
              expect(heap[at.out + size - 1 + i], `${where}, ${i} after the output`).toBe(SENTINEL);
            }
          }
          // The inputs and the parameters are as they were.
          expect(heap.subarray(at.first, at.first + size)).toEqual(x);
          expect(heap.subarray(at.second, at.second + size)).toEqual(g);
          p.forEach((values, k) => expect(heap.subarray(at.parameters[k], at.parameters[k] + channels)).toEqual(values));
        }
      }
    }
  });
});
