/**
 * Side-by-side timing: the cases of a group run interleaved, round after round, in one process,
 * and are compared by their medians. A noisy machine slows every case of a round alike, so the
 * ratios hold even when the absolute times wander.
 */
export interface Case {
  name: string;
  run: () => unknown;
  /**
   * For a case timed elsewhere (PyTorch's, in its own process): runs it `repeat` times in a row
   * and returns the milliseconds per run it measured itself, so the time to ask is no part of
   * the figure.
   */
  timeItself?: (repeat: number) => number;
}

export interface MeasureOptions {
  rounds?: number;
  /** Runs of each case before the first round, at the least. */
  warmup?: number;
  /** Go on warming each case up until it has run this long (a JIT optimizes after thousands of calls, not three). */
  warmupMs?: number;
  /** Keep adding rounds until this long has passed. */
  minMs?: number;
  /**
   * Runs of a case per sample, back to back, timed together: the steady state of a loop, as
   * torch.utils.benchmark's blocks and timeit measure it. A single run after the other side's
   * turn (or a wait on a pipe) starts with cold caches and a core that may have slowed down.
   */
  repeat?: number;
}

export interface Timing {
  name: string;
  medianMs: number;
  /** Every round's time, in round order, for ratios taken round by round. */
  samples: number[];
}

/** One sample of `c`: the milliseconds per run over `repeat` runs in a row. */
function sample(c: Case, repeat: number): number {
  if (c.timeItself) return c.timeItself(repeat);
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) c.run();
  return (performance.now() - t0) / repeat;
}

export function measure(cases: readonly Case[], { rounds = 30, warmup = 5, warmupMs = 0, minMs = 0, repeat = 1 }: MeasureOptions = {}): Timing[] {
  for (const c of cases) {
    const t0 = performance.now();
    for (let i = 0; i < warmup || performance.now() - t0 < warmupMs; i++) sample(c, 1);
  }
  const samples = cases.map(() => [] as number[]);
  const started = performance.now();
  for (let round = 0; round < rounds || performance.now() - started < minMs; round++) {
    cases.forEach((c, i) => samples[i].push(sample(c, repeat)));
  }
  return cases.map((c, i) => ({ name: c.name, medianMs: median(samples[i]), samples: samples[i] }));
}

/**
 * The median over rounds of a's time / b's time in the same round. The machine's speed drifts
 * between rounds (other tenants, GC), and a ratio of two medians would carry that drift; within
 * one round both cases see the same machine.
 */
export function pairedRatio(a: Timing, b: Timing): number {
  return median(a.samples.map((time, round) => time / b.samples[round]));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Prints rows aligned in columns, the first row as a header. */
export function printTable(title: string, rows: readonly (readonly string[])[]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  console.log(`\n## ${title}`);
  rows.forEach((row, r) => {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (r === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

export const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));
export const ratio = (value: number) => `${value.toFixed(2)}×`;
