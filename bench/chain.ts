import { tensor, type Tensor } from '../src/index.js';
import { ms, printTable, ratio } from './harness.js';

/* Backward through long chains: linear time (200k/100k ≈ 2) and bounded memory, no stack overflow. */

function buildChain(length: number): { x: Tensor; y: Tensor } {
  const x = tensor([1, 2, 3, 4], { requiresGrad: true });
  let y = x;
  for (let i = 0; i < length; i++) y = y.mul(1.0000001);
  return { x, y: y.sum() };
}

export function backwardTime(length: number): { ms: number; heapMb: number } {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const { y } = buildChain(length);
  const t0 = performance.now();
  y.backward();
  const elapsed = performance.now() - t0;
  const heapMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  return { ms: elapsed, heapMb };
}

export function benchChain(): void {
  // Alternate the two lengths and keep the median of each.
  const runs: Record<number, { ms: number; heapMb: number }[]> = { 100_000: [], 200_000: [] };
  backwardTime(10_000);
  for (let round = 0; round < 5; round++) for (const length of [100_000, 200_000]) runs[length].push(backwardTime(length));
  const med = (length: number) => [...runs[length]].sort((a, b) => a.ms - b.ms)[2];
  const short = med(100_000);
  const long = med(200_000);
  const gcNote = globalThis.gc ? '' : ' (run with --expose-gc for exact heap figures)';
  printTable(`Backward through a chain of mul ops${gcNote}`, [
    ['chain length', 'backward ms', 'heap after backward MB'],
    ['100,000', ms(short.ms), short.heapMb.toFixed(0)],
    ['200,000', ms(long.ms), long.heapMb.toFixed(0)],
    ['ratio 200k/100k (linear = 2, target ≤ 2.3)', ratio(long.ms / short.ms), ''],
  ]);
  console.log(`peak resident set of the whole benchmark so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}
