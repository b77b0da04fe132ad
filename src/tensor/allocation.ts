import { formatShape, sizeOf, type Shape } from './shape.js';

/*
 * Every buffer of tensor values whose size is not bounded by an input's comes from `allocate`,
 * which refuses it before allocating when it would need more than the limit. Without it a
 * mistyped shape either dies in V8 ("Invalid typed array length", naming neither op nor shape)
 * or succeeds slowly: zeros([1e9]) took 8 GB and 27 s.
 */

/** 2 GiB: 268,435,456 float64 values in one tensor. */
export const DEFAULT_MAX_ALLOCATION_BYTES = 2 ** 31;

let maxAllocationBytes = DEFAULT_MAX_ALLOCATION_BYTES;

/** The most bytes one tensor's values may take; larger results are refused before allocating. */
export function getMaxAllocationBytes(): number {
  return maxAllocationBytes;
}

/**
 * Sets the most bytes one tensor's values may take (default 2 GiB); returns the previous limit,
 * so a caller can restore it. Raise it on a machine with the memory for larger tensors.
 */
export function setMaxAllocationBytes(bytes: number): number {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw new Error(`setMaxAllocationBytes: bytes must be a non-negative integer, got ${typeof bytes === 'number' ? String(bytes) : typeof bytes}`);
  }
  const previous = maxAllocationBytes;
  maxAllocationBytes = bytes;
  return previous;
}

function formatBytes(bytes: number): string {
  // Past 2 ** 53 the count itself is rounded (and can be Infinity): say so in the notation.
  if (!Number.isSafeInteger(bytes)) return `${bytes.toPrecision(3)} bytes`;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const exact = unit === 0 ? '' : ` (${bytes.toLocaleString('en-US')} bytes)`;
  return `${unit === 0 ? value : value.toPrecision(3)} ${units[unit]}${exact}`;
}

/** Zeroed float64 values for a tensor of `shape`, made by `op`; refused (naming both) over the limit. */
export function allocate(op: string, shape: Shape): Float64Array {
  const size = sizeOf(shape);
  const bytes = size * Float64Array.BYTES_PER_ELEMENT;
  if (bytes > maxAllocationBytes) {
    throw new Error(
      `${op}: a result of shape ${formatShape(shape)} would need ${formatBytes(bytes)}, more than the limit of ` +
        `${formatBytes(maxAllocationBytes)} for one tensor; check the shape, or raise the limit with setMaxAllocationBytes()`,
    );
  }
  try {
    return new Float64Array(size);
  } catch (error) {
    // Under a raised limit, V8's own ceiling or the machine's memory can still say no.
    throw new Error(`${op}: could not allocate ${formatBytes(bytes)} for a result of shape ${formatShape(shape)}: ${(error as Error).message}`);
  }
}
