import { pinValues } from '../tensor/allocation.js';

/*
 * Values changed under a recorded graph. PyTorch keeps a version counter per tensor, bumped by
 * every in-place op, and backward refuses a saved tensor whose version moved. Here the values
 * can be written through `tensor.data`, a plain Float64Array that no counter sees (a reference
 * kept from earlier writes without asking), so the check is by value, and only where a write
 * is possible at all:
 *
 * - Kernels read `tensor.storage`, which never leaves the library; a buffer is "handed out"
 *   the first time `.data` gives it to someone. If a recorded node saved it before, its values
 *   at that moment are copied, before anyone could write to it: they are what that node saw.
 *   A tensor knows whether a node saved it, but a buffer can be shared (detach(), a view such as
 *   reshape): a shared buffer is copied at its hand-out whatever the tensor handing it out knows.
 * - A node recording a buffer that was already handed out keeps a copy of its own.
 * - Before a node's backward runs, its saved buffers (inputs and output) are compared with
 *   those copies.
 *
 * So a buffer nobody was given costs one WeakMap lookup per node that saves it; one that was
 * costs a copy at the hand-out (if saved or shared by then), a copy per node that saves it
 * afterwards, and a comparison at backward.
 * Not seen: writes to `storage` itself (the untracked escape, like PyTorch's `.data`), and
 * writes to an array passed to `new Tensor(array, shape)`, which wraps it (`tensor()` copies).
 */

/** Handed-out buffers, with their values at the hand-out when some node may have saved them. */
const valuesAtHandOut = new WeakMap<Float64Array, Float64Array | null>();
/** Buffers that more than one tensor holds. Few: only views and detach() make them. */
const sharedBuffers = new WeakSet<Float64Array>();

/**
 * The one-element buffers of plain-number operands (`x.mul(2)`), one per value, shared by every
 * constant tensor made from that value: a chain of 400,000 `mul(c)` would otherwise hold 400,000
 * copies of c at ~210 bytes each. Kernels never write their inputs, so sharing is safe until
 * someone is given the buffer through `.data`: then it leaves this table (later constants get
 * a buffer of their own) and is treated as any shared buffer (its values are kept at the
 * hand-out, so a write is caught at backward by every node that saved it). -0 is not shared:
 * the table's keys cannot tell it from 0.
 */
const constantBuffers = new Map<number, Float64Array>();
const MAX_CONSTANT_BUFFERS = 1024;

/** A buffer holding `value`, shared with other constants of the same value while nobody was handed it. */
export function constantBuffer(value: number): Float64Array {
  let buffer = constantBuffers.get(value);
  if (buffer === undefined || Object.is(value, -0)) {
    buffer = Float64Array.of(value);
    if (Object.is(value, -0)) return buffer;
    if (constantBuffers.size >= MAX_CONSTANT_BUFFERS) constantBuffers.clear();
    constantBuffers.set(value, buffer);
  }
  return buffer;
}

/** Notes that a second tensor holds `buffer`; returns it. */
export function shareBuffer(buffer: Float64Array): Float64Array {
  sharedBuffers.add(buffer);
  return buffer;
}

/** Gives `buffer` to the caller of `.data`; the first time, copies it if a node may have saved it. */
export function handOut(buffer: Float64Array, savedByNode: boolean): Float64Array {
  if (buffer.length === 1 && constantBuffers.get(buffer[0]) === buffer) {
    constantBuffers.delete(buffer[0]);
    sharedBuffers.add(buffer);
  }
  if (!valuesAtHandOut.has(buffer)) {
    valuesAtHandOut.set(buffer, savedByNode || sharedBuffers.has(buffer) ? buffer.slice() : null);
    pinValues(buffer);
  }
  return buffer;
}

/** True once `.data` has given `buffer` to someone, who may hold it: tidy() never reuses it. */
export function wasHandedOut(buffer: Float64Array): boolean {
  return valuesAtHandOut.has(buffer);
}

/** What a node recording `buffer` must find in it again at backward time (null: the copy at its hand-out, if any). */
export function keepForBackward(buffer: Float64Array): Float64Array | null {
  return valuesAtHandOut.has(buffer) ? buffer.slice() : null;
}

/** The first element of `buffer` that differs from what was kept, or null (NaN equals NaN here). */
export function firstChange(buffer: Float64Array, kept: Float64Array | null): { index: number; was: number } | null {
  const expected = kept ?? valuesAtHandOut.get(buffer) ?? null;
  if (expected === null) return null;
  for (let i = 0; i < buffer.length; i++) {
    const now = buffer[i];
    const was = expected[i];
    if (now !== was && !(now !== now && was !== was)) return { index: i, was };
  }
  return null;
}
