import type { ValueSnapshot } from './trace.js';

/*
 * The text inside a picture's nodes: shapes, numbers, value and gradient summaries. Plain
 * strings with '\n' between lines; escaping for DOT happens once, in dot.ts.
 */

/**
 * `4×3`, or `N×D` when `dims` names the sizes. A size two names share stays a number, and so does
 * every 1: it is also the size of a reduced axis (μ is 1×D), so with D = 1 a letter would lie.
 */
export function formatDims(shape: readonly number[], dims: Readonly<Record<string, number>> = {}): string {
  if (shape.length === 0) return 'scalar';
  return shape.map(sizeSymbols(dims)).join('×');
}

/** A size's letter in `dims` (`N` for 4 when N = 4), or the number when no one letter has it, or it is 1. */
export function sizeSymbols(dims: Readonly<Record<string, number>>): (size: number) => string {
  const symbols = new Map<number, string | null>();
  for (const [symbol, size] of Object.entries(dims)) symbols.set(size, symbols.has(size) ? null : symbol);
  return (size) => (size === 1 ? '1' : (symbols.get(size) ?? String(size)));
}

/**
 * A number formatter for one tensor: enough decimals for three significant digits of its
 * largest value, so `mean 0.00  std 1.00` reads as such instead of `mean 1.9e-17`.
 */
export function numberFormat(values: readonly number[]): (v: number) => string {
  let largest = 0;
  for (const v of values) if (Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
  if (largest !== 0 && (largest >= 1e5 || largest < 1e-4)) return (v) => (Number.isFinite(v) ? v.toExponential(2) : String(v));
  const decimals = largest === 0 ? 0 : Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(largest))));
  return (v) => {
    if (!Number.isFinite(v)) return String(v);
    const text = v.toFixed(decimals);
    // toFixed keeps the sign of a value that rounds to zero: -0.00.
    return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
  };
}

/** A constant as written in code: `0.00001`, `2`. */
export function formatConstant(value: number): string {
  const text = String(value);
  return text.length <= 10 ? text : value.toPrecision(4);
}

/** The rows of a tensor's values, last axis across. */
function rows(values: readonly number[], shape: readonly number[], format: (v: number) => string): string[] {
  const width = shape.length === 0 ? 1 : shape[shape.length - 1];
  const lines: string[] = [];
  for (let start = 0; start < values.length; start += width) {
    lines.push(`[${values.slice(start, start + width).map(format).join('  ')}]`);
  }
  return lines;
}

export type ValuesMode = 'none' | 'summary' | 'full';

/**
 * Lines describing values (or a gradient, with `prefix` '∇ '): a summary (mean, std, min,
 * max), or every value when `full` is asked and the tensor is small enough to have kept them.
 */
export function describeValues(snapshot: ValueSnapshot, shape: readonly number[], mode: ValuesMode, prefix = ''): string[] {
  if (mode === 'none') return [];
  const { summary, values } = snapshot;
  if (summary === null) return [`${prefix}(empty)`];
  if (mode === 'full' && values !== null) {
    const format = numberFormat(values);
    return rows(values, shape, format).map((row) => prefix + row);
  }
  const format = numberFormat([summary.mean, summary.std, summary.min, summary.max]);
  return [
    `${prefix}mean ${format(summary.mean)}  std ${format(summary.std)}`,
    `${prefix}min ${format(summary.min)}  max ${format(summary.max)}`,
  ];
}
