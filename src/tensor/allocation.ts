import { formatShape, sizeOf, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import { describeValue } from '../validate.js';

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
    throw new Error(`setMaxAllocationBytes: bytes must be a non-negative integer, got ${describeValue(bytes)}`);
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

/*
 * Small buffers are cut from shared 8 KiB slabs, the way Node's Buffer pool does it. A
 * Float64Array of its own costs ~210 bytes beyond its values (and ~500 ns above 8 values, where
 * V8 moves them off the heap); a view into a slab costs ~105 and ~30 ns. Each slab region is
 * handed out once and never reused, so a view is zeroed and no one else writes to it; the price
 * is that one live view keeps its whole slab (at most 8 KiB) alive.
 */
const SLAB_BYTES = 8192;
/** Buffers of up to this many values come from a slab. */
const SLAB_LIMIT = 64;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabOffset = 0;

/** `size` zeroed float64 values, from a slab when few. The caller checks the size. */
export function zeroedValues(size: number): Float64Array {
  if (size > SLAB_LIMIT) {
    // A reused buffer, zeroed: a pass over memory in cache costs less than a fault per page of new memory.
    const reused = reusedValues(size);
    return noted(reused === undefined ? new Float64Array(size) : reused.fill(0));
  }
  const bytes = size * Float64Array.BYTES_PER_ELEMENT;
  if (slabOffset + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabOffset = 0;
  }
  const values = new Float64Array(slab, slabOffset, size);
  slabOffset += bytes;
  return values;
}

function checkLimit(op: string, shape: Shape, size: number): void {
  const bytes = size * Float64Array.BYTES_PER_ELEMENT;
  if (bytes > maxAllocationBytes) {
    throw new Error(
      `${op}: a result of shape ${formatShape(shape)} would need ${formatBytes(bytes)}, more than the limit of ` +
        `${formatBytes(maxAllocationBytes)} for one tensor; check the shape, or raise the limit with setMaxAllocationBytes()`,
    );
  }
}

/** Zeroed float64 values for a tensor of `shape`, made by `op`; refused (naming both) over the limit. */
export function allocate(op: string, shape: Shape): Float64Array {
  const size = sizeOf(shape);
  checkLimit(op, shape, size);
  try {
    return zeroedValues(size);
  } catch (error) {
    // Under a raised limit, V8's own ceiling or the machine's memory can still say no.
    throw new Error(`${op}: could not allocate ${formatBytes(size * Float64Array.BYTES_PER_ELEMENT)} for a result of shape ${formatShape(shape)}: ${(error as Error).message}`);
  }
}

/*
 * Reuse of large buffers. Writing into fresh memory costs a page fault per 4 KiB (a pass over
 * 2 MB took 0.41 ms into a fresh buffer, 0.10 ms into a reused one), so the backward pass gives
 * back the intermediate gradients it can prove nobody holds (engine.ts), tidy() gives back what
 * its scope made and did not keep (tidy.ts), and every result of POOL_MIN_VALUES values or more
 * is taken from here when a buffer of its size is free (zeroed first if zeros were asked for).
 * Only those two release, and only buffers they saw allocated (`collectAllocations`, `openTidy`):
 * a buffer handed out through `.data` is never reused.
 * Slab views are not collected: too small to be worth reusing or summing into in place, and the
 * bookkeeping would cost a long chain of small ops more than it saves.
 */
export const POOL_MIN_VALUES = 4096;
/** 512 MiB: the buffers of one explicit BN step at 4096×1024 (eight of 32 MiB) fit, with room. */
export const MAX_POOLED_BYTES = 2 ** 29;
const pool = new Map<number, Float64Array[]>();
/** What the pool holds, so that a buffer given back twice (by a backward pass, then by its tidy) is pooled once. */
const inPool = new Set<Float64Array>();
let pooledBytes = 0;

/** Takes back a buffer no one holds any more, for a later result of its size (zeroed first when asked for zeros). */
export function releaseValues(buffer: Float64Array): void {
  if (arena?.owns(buffer)) {
    arena.release(buffer);
    return;
  }
  if (buffer.length < POOL_MIN_VALUES || inPool.has(buffer) || pooledBytes + buffer.byteLength > MAX_POOLED_BYTES) return;
  const free = pool.get(buffer.length);
  if (free === undefined) pool.set(buffer.length, [buffer]);
  else free.push(buffer);
  inPool.add(buffer);
  pooledBytes += buffer.byteLength;
}

/** A pooled buffer of `size` values, taken out of the pool, or undefined when there is none. */
function takeFromPool(size: number): Float64Array | undefined {
  const reused = size >= POOL_MIN_VALUES ? pool.get(size)?.pop() : undefined;
  if (reused !== undefined) {
    inPool.delete(reused);
    pooledBytes -= reused.byteLength;
  }
  return reused;
}

/** The bytes the pool (and the kernels' arena) hold now, for a later result of the same size. */
export function pooledMemoryBytes(): number {
  return pooledBytes + (arena?.heldBytes() ?? 0);
}

/**
 * Lets go of every buffer the pool holds (for the collector to free), and returns how many
 * bytes that was: after a large computation, before smaller ones, like PyTorch's
 * `torch.cuda.empty_cache()`.
 */
export function emptyPool(): number {
  const bytes = pooledBytes + (arena?.empty() ?? 0);
  pool.clear();
  inPool.clear();
  pooledBytes = 0;
  return bytes;
}

/*
 * Where the kernels keep values of their own (the WebAssembly kernels' memory, wasm/arena.ts):
 * large results are taken from there while it has room, so that those kernels read and write
 * them in place. The backend says whether it has one (`setArenaSource`), on the first large
 * allocation; buffers the arena made go back to it, whichever kernels are in use by then.
 */
export interface ValuesArena {
  /** `length` values, contents unspecified, or undefined when there is no room; `scoped`: a tidy() is open. */
  take(length: number, scoped: boolean): Float64Array | undefined;
  owns(values: Float64Array): boolean;
  release(values: Float64Array): void;
  /** `values` was handed out through `.data`: never reuse it. */
  pin(values: Float64Array): void;
  /** The bytes of released buffers held for later results. */
  heldBytes(): number;
  /** Lets go of those (see emptyPool); returns their bytes. */
  empty(): number;
}

/** Asked on every large allocation: the arena to take from now, or null (the JavaScript kernels are in use). */
let arenaSource: () => ValuesArena | null = () => null;
/** The arena once there was one: it takes its buffers back even after a switch to other kernels. */
let arena: ValuesArena | null = null;

export function setArenaSource(source: () => ValuesArena | null): void {
  arenaSource = source;
}

/** A buffer of `size` values to reuse: from the kernels' memory while it has room, else from the pool; undefined when neither has one. */
function reusedValues(size: number): Float64Array | undefined {
  return takeFromArena(size) ?? takeFromPool(size);
}

function takeFromArena(size: number): Float64Array | undefined {
  if (size < POOL_MIN_VALUES) return undefined;
  const current = arenaSource();
  if (current === null) return undefined;
  arena = current;
  return current.take(size, openTidy !== null);
}

/** `.data` gave `buffer` to someone: if the arena made it, it is never reused (see wasm/arena.ts). */
export function pinValues(buffer: Float64Array): void {
  if (arena?.owns(buffer)) arena.pin(buffer);
}

/**
 * What the innermost open `tidy()` (tidy.ts) has made so far: the tensors of at least
 * POOL_MIN_VALUES values constructed, and the buffers of that size allocated, since it opened.
 */
export interface TidyRecord {
  readonly tensors: Tensor[];
  readonly buffers: Set<Float64Array>;
  /** Tensors to keep whatever their size: gradients stored in `.grad`, and `keep()`'s. */
  readonly roots: Tensor[];
}

/** The innermost tidy() open now, or null; Tensor's constructor and `noted` write to it. */
export let openTidy: TidyRecord | null = null;

export function setOpenTidy(record: TidyRecord | null): void {
  openTidy = record;
}

/** Buffers allocated while a collector listens (see `collectAllocations`). */
let collector: Set<Float64Array> | null = null;

/**
 * Runs `fn`, adding to `into` every buffer allocated for a result meanwhile (null: note none):
 * what the engine may later prove unshared. Collectors nest; the innermost one gets the buffers.
 */
export function collectAllocations<T>(into: Set<Float64Array> | null, fn: () => T): T {
  const outer = collector;
  collector = into;
  try {
    return fn();
  } finally {
    collector = outer;
  }
}

function noted(values: Float64Array): Float64Array {
  if (collector !== null) collector.add(values);
  if (openTidy !== null && values.length >= POOL_MIN_VALUES) openTidy.buffers.add(values);
  return values;
}

/**
 * From this many values (the pool's smallest) up, asking Node for an unzeroed buffer costs less
 * than zeroing a new array: side by side, explicit BN at 64×64 and the MLP step (32–64 KB
 * buffers) ran 6–10% faster with it than with the zeroed arrays taken below 2¹⁵ values before.
 */
const UNZEROED_MIN_VALUES = POOL_MIN_VALUES;

/**
 * `size` values whose contents are unspecified, for kernels that write every element: a reused
 * buffer when one is free; else, in Node and when large, one taken without zeroing
 * (Buffer.allocUnsafeSlow: an ArrayBuffer of its own, not a slice of Buffer's shared pool),
 * which saves a pass over each output; else zeroed values.
 */
export function uninitializedValues(size: number): Float64Array {
  const reused = reusedValues(size);
  if (reused !== undefined) return noted(reused);
  // Buffer is Node's; a page has none.
  const nodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;
  if (nodeBuffer === undefined || size < UNZEROED_MIN_VALUES) return zeroedValues(size);
  const bytes = nodeBuffer.allocUnsafeSlow(size * Float64Array.BYTES_PER_ELEMENT);
  return noted(new Float64Array(bytes.buffer, bytes.byteOffset, size));
}

/** `allocate` without the zeros: for kernels that write every element of the result. */
export function allocateUninitialized(op: string, shape: Shape): Float64Array {
  const size = sizeOf(shape);
  checkLimit(op, shape, size);
  return uninitializedValues(size);
}
