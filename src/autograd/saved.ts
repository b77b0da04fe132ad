/*
 * Values changed under a recorded graph. PyTorch keeps a version counter per tensor, bumped by
 * every in-place op, and backward refuses a saved tensor whose version moved. Here the values
 * can be written through `tensor.data`, a plain Float64Array that no counter sees (a reference
 * kept from earlier writes without asking), so the check is by value, and only where a write
 * is possible at all:
 *
 * - Kernels read `tensor.storage`, which never leaves the library; a buffer is "handed out"
 *   the first time `.data` gives it to someone (aliases such as detach() share the buffer).
 *   Its values at that moment are copied, before anyone could write to it: a node recorded
 *   before the hand-out saved exactly these values.
 * - A node recording a buffer that was already handed out keeps a copy of its own.
 * - Before a node's backward runs, its saved buffers (inputs and output) are compared with
 *   those copies.
 *
 * So a buffer nobody was given costs one WeakMap lookup per node that saves it; one that was
 * costs a copy at the hand-out, a copy per node that saves it, and a comparison at backward.
 * Not seen: writes to `storage` itself (the untracked escape, like PyTorch's `.data`), and
 * writes to an array passed to `new Tensor(array, shape)`, which wraps it (`tensor()` copies).
 */

/** Handed-out buffers, with their values at the hand-out. Only these ever become keys. */
const valuesAtHandOut = new WeakMap<Float64Array, Float64Array>();

/** Gives `buffer` to the caller of `.data`, copying its values the first time. */
export function handOut(buffer: Float64Array): Float64Array {
  if (!valuesAtHandOut.has(buffer)) valuesAtHandOut.set(buffer, buffer.slice());
  return buffer;
}

/** What a node recording `buffer` must find in it again at backward time (null: the copy at its hand-out, if any). */
export function keepForBackward(buffer: Float64Array): Float64Array | null {
  return valuesAtHandOut.has(buffer) ? buffer.slice() : null;
}

/** The first element of `buffer` that differs from what was kept, or null (NaN equals NaN here). */
export function firstChange(buffer: Float64Array, kept: Float64Array | null): { index: number; was: number } | null {
  const expected = kept ?? valuesAtHandOut.get(buffer);
  if (expected === undefined) return null;
  for (let i = 0; i < buffer.length; i++) {
    const now = buffer[i];
    const was = expected[i];
    if (now !== was && !(now !== now && was !== was)) return { index: i, was };
  }
  return null;
}
