import { describe, expect, it } from 'vitest';
import { randn } from 'gradgraph';
import { layParameters, parameterTableValues, sweepModulesBytes } from '../../../src/backend/wasm/sweeps.js';

/*
 * The storing sweeps run alone, on a memory laid out here: every value of the output equals the
 * JavaScript loops' expression bit for bit, and nothing outside the output changes. On [N, C]
 * (two channels or more) inputGradient reads its parameters from the table layParameters lays
 * out, which stays within parameterTableValues; elsewhere they read the per-channel arrays. On [N, C] they cover widths that do not divide into their steps by overlapping steps (storing some
 * values twice) and rows in turns of three or four, a last turn of fewer padded with the last row
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

/** Every module's sweeps by name, on `memory`, as the kernels instantiate them (one instance per module, one memory). */
function sweepsOn(memory: object): Record<string, (...args: number[]) => void> {
  return Object.assign({}, ...sweepModulesBytes().map((bytes) => new wasm.Instance(new wasm.Module(bytes), { env: { memory } }).exports));
}

const GUARD = 8;
const SENTINEL = -12345.678;
/** The most rows tried: two turns of four and one more row, three turns of three. */
const ROWS = 9;

interface Layout { readonly first: number; readonly second: number; readonly out: number; readonly parameters: readonly number[]; readonly table: number; readonly end: number }

/** In values: four parameter slots of `channels` (rounded up to pairs), the table between guard values, the two input streams, then the output between guard values. */
function layout(size: number, channels: number): Layout {
  const slot = channels + (channels & 1);
  const parameters = [0, 1, 2, 3].map((k) => k * slot);
  const table = 4 * slot + GUARD, first = table + parameterTableValues(channels) + GUARD;
  const second = first + size + (size & 1), out = second + size + (size & 1) + GUARD;
  return { first, second, out, parameters, table, end: out + size + GUARD };
}

describe('the storing sweeps', () => {
  it('store exactly the loops\' values, and nothing outside the output, at every small width and row count', () => {
    const largest = layout(ROWS * 11 * 3, 11);
    const memory = new wasm.Memory({ initial: Math.ceil((largest.end * 8) / 65_536) + 1 });
    const sweeps = sweepsOn(memory);
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
          const channelOf = (i: number) => Math.floor(i / spatial) % channels;
          const cases = [
            { name: 'affine', run: (p0: number, p1: number, p2: number) => sweeps.affine(at.first * 8, 0, at.out * 8, 0, p0, p1, p2, 0, rows, channels, spatial, 4),
              expected: (i: number, c: number) => (x[i] - p[0][c]) * p[1][c] + p[2][c] },
            // inputGradient reads g as its first stream and x as its second, as the kernels call it.
            { name: 'inputGradient', run: (p0: number, p1: number, p2: number, p3: number) => sweeps.inputGradient(at.second * 8, at.first * 8, at.out * 8, 0, p0, p1, p2, p3, rows, channels, spatial, 4),
              expected: (i: number, c: number) => p[1][c] * g[i] + p[2][c] * (x[i] - p[0][c]) + p[3][c] },
            // From the second module.
            { name: 'quotient', run: (p0: number) => sweeps.quotient(at.first * 8, 0, at.out * 8, 0, p0, 0, 0, 0, rows, channels, spatial),
              expected: (i: number, c: number) => x[i] / p[0][c] },
            // Elementwise: every layout as one run of its values.
            { name: 'relu', run: () => sweeps.relu(at.first * 8, 0, at.out * 8, 0, 0, 0, 0, 0, rows, channels, spatial),
              expected: (i: number) => (x[i] < 0 ? 0 : x[i]) },
            { name: 'reluGradient', run: () => sweeps.reluGradient(at.second * 8, at.first * 8, at.out * 8, 0, 0, 0, 0, 0, rows, channels, spatial),
              expected: (i: number) => g[i] * (x[i] <= 0 ? 0 : 1) },
          ] as const;
          for (const { name, run, expected } of cases) {
            const where = `${name} on [${rows}, ${channels}, ${spatial}]`;
            heap.fill(SENTINEL, at.table - GUARD, at.first);
            const table = heap.subarray(at.table, at.table + parameterTableValues(channels));
            const inTable = layParameters(name, p, channels, spatial, table);
            // inputGradient reads a table where it steps along a row, on [N, C] with two channels or more; affine reads the arrays.
            expect(inTable, where).toBe(name === 'inputGradient' && spatial === 1 && channels >= 2);
            const laid = heap.slice(at.table - GUARD, at.first);
            for (let i = 1; i <= GUARD; i++) expect([laid[GUARD - i], laid[laid.length - i]], `${where}: the table's guards`).toEqual([SENTINEL, SENTINEL]);
            if (!inTable) expect(table.every((value) => value === SENTINEL), `${where}: no table`).toBe(true);
            heap.fill(SENTINEL, at.out - GUARD, at.end);
            const [p0, p1, p2, p3] = at.parameters.map((values) => values * 8);
            run(inTable ? at.table * 8 : p0, p1, p2, p3);
            expect(heap.slice(at.table - GUARD, at.first), `${where}: the table as it was`).toEqual(laid);
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

/*
 * The summing sweeps on [N, C] run alone too: each channel's sums are the JavaScript loops' (rows
 * added in row order, onto what the slots held, as the kernels call a sweep block after block of
 * rows), bit for bit, and nothing but the sums changes. They go in blocks of four rows, the
 * channel pairs (or two pairs side by side) four rows a turn and the channels left one at a time
 * down the block, so this checks every width up to three turns and a part and every number of
 * rows up to three blocks and a part (none too).
 */
describe('the summing sweeps', () => {
  it('add exactly the loops\' sums onto the slots, and write nothing else, at every small width and row count', () => {
    const most = { rows: 13, channels: 13 };
    const slot = most.channels + GUARD;
    // In values: the mean, the two sums between guards, then the two streams.
    const mean = GUARD, sums = [mean + slot, mean + 2 * slot], first = mean + 3 * slot, second = first + most.rows * most.channels + 1;
    const end = second + most.rows * most.channels + GUARD;
    const memory = new wasm.Memory({ initial: Math.ceil((end * 8) / 65_536) + 1 });
    const sweeps = sweepsOn(memory);
    const heap = new Float64Array(memory.buffer);
    let seed = 1000;
    for (let rows = 0; rows <= most.rows; rows++) {
      for (let channels = 1; channels <= most.channels; channels++) {
        const size = rows * channels;
        const x = randn([size], { seed: seed++ }).storage, g = randn([size], { seed: seed++ }).storage;
        const mu = randn([channels], { seed: seed++ }).storage, start = [0, 1].map(() => randn([channels], { seed: seed++ }).storage);
        /** The loops of js.ts, onto `start`. */
        const loops = (add: (c: number, i: number, into: Float64Array[]) => void) => {
          const into = start.map((values) => values.slice());
          for (let i = 0; i < size; i++) add(i % channels, i, into);
          return into;
        };
        const cases = [
          { name: 'channelSum', run: () => sweeps.channelSum(first * 8, 0, sums[0] * 8, 0, 0, 0, 0, 0, rows, channels, 1), count: 1,
            expected: loops((c, i, [s]) => { s[c] += x[i]; }) },
          { name: 'squaredDeviations', run: () => sweeps.squaredDeviations(first * 8, 0, sums[0] * 8, 0, mean * 8, 0, 0, 0, rows, channels, 1), count: 1,
            expected: loops((c, i, [s]) => { const d = x[i] - mu[c]; s[c] += d * d; }) },
          { name: 'powerSums', run: () => sweeps.powerSums(first * 8, 0, sums[0] * 8, sums[1] * 8, 0, 0, 0, 0, rows, channels, 1), count: 2,
            expected: loops((c, i, [sum, squares]) => { sum[c] += x[i]; squares[c] += x[i] * x[i]; }) },
          // gradientSums reads g as its first stream and x as its second, as the kernels call it.
          { name: 'gradientSums', run: () => sweeps.gradientSums(second * 8, first * 8, sums[0] * 8, sums[1] * 8, mean * 8, 0, 0, 0, rows, channels, 1), count: 2,
            expected: loops((c, i, [beta, gamma]) => { beta[c] += g[i]; gamma[c] += g[i] * (x[i] - mu[c]); }) },
        ];
        for (const { name, run, count, expected } of cases) {
          heap.fill(SENTINEL, 0, end);
          heap.set(mu, mean);
          heap.set(x, first);
          heap.set(g, second);
          start.forEach((values, t) => heap.set(values, sums[t]));
          // All of memory as it should be after: as before, but for the sums.
          const after = heap.slice(0, end);
          expected.slice(0, count).forEach((values, t) => after.set(values, sums[t]));
          run();
          const differs = after.findIndex((value, i) => !Object.is(heap[i], value));
          const what = differs < 0 ? '' : differs >= sums[0] && differs < sums[0] + 2 * slot ? `sum ${Math.floor((differs - sums[0]) / slot)} at ${(differs - sums[0]) % slot}` : `value ${differs}`;
          expect(what, `${name} on [${rows}, ${channels}]: ${heap[differs]} where ${after[differs]} was expected`).toBe('');
        }
      }
    }
  });
});

describe('the parameters\' table', () => {
  it('holds, for each of inputGradient\'s steps along a row, its channel pair\'s four parameters side by side; the first step overlaps the second on an odd width', () => {
    const channels = 5;
    // Parameter k of channel c is 10k + c.
    const parameters = [0, 1, 2, 3].map((k) => Float64Array.from({ length: channels }, (_, c) => 10 * k + c));
    const table = new Float64Array(parameterTableValues(channels)).fill(SENTINEL);
    expect(layParameters('inputGradient', parameters, channels, 1, table)).toBe(true);
    const entry = (c: number) => [0, 10, 20, 30].flatMap((k) => [k + c, k + c + 1]);
    // Steps at channels 0, 1 and 3: 0..1, then 1..2 and 3..4.
    expect([...table.subarray(0, 24)]).toEqual([...entry(0), ...entry(1), ...entry(3)]);
    expect(table.subarray(24).every((value) => value === SENTINEL)).toBe(true);
  });

  it('is not laid for affine, on [N, C, L] with L > 1, or for one channel, where the sweeps read the per-channel arrays', () => {
    const parameters = [0, 1, 2, 3].map(() => new Float64Array(4).fill(1));
    const table = new Float64Array(parameterTableValues(4)).fill(SENTINEL);
    expect(layParameters('affine', parameters, 4, 1, table)).toBe(false);
    expect(layParameters('inputGradient', parameters, 4, 3, table)).toBe(false);
    expect(layParameters('inputGradient', parameters.map((values) => values.subarray(0, 1)), 1, 1, table)).toBe(false);
    expect(table.every((value) => value === SENTINEL)).toBe(true);
  });
});
