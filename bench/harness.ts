/**
 * Side-by-side timing: the cases of a group run interleaved, round after round, in one process,
 * and are compared by their medians. A noisy machine slows every case of a round alike, so the
 * ratios hold even when the absolute times wander.
 */
export interface Case {
  name: string;
  run: () => unknown;
  /**
   * For a case timed elsewhere (PyTorch's, in its own process): runs it once and returns the
   * milliseconds it measured itself, so the time to ask is no part of the figure.
   */
  timeItself?: () => number;
}

export interface Timing {
  name: string;
  medianMs: number;
  /** Every round's time, in round order, for ratios taken round by round. */
  samples: number[];
}

export function measure(cases: readonly Case[], { rounds = 30, warmup = 5, minMs = 0 } = {}): Timing[] {
  for (let i = 0; i < warmup; i++) for (const c of cases) (c.timeItself ?? c.run)();
  const samples = cases.map(() => [] as number[]);
  const started = performance.now();
  for (let round = 0; round < rounds || performance.now() - started < minMs; round++) {
    cases.forEach((c, i) => {
      if (c.timeItself) {
        samples[i].push(c.timeItself());
        return;
      }
      const t0 = performance.now();
      c.run();
      samples[i].push(performance.now() - t0);
    });
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
