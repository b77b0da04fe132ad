import { openTidy, releaseValues, setOpenTidy, type TidyRecord } from './allocation.js';
import { wasHandedOut } from '../autograd/saved.js';
import { Tensor } from './tensor.js';
import { describeValue } from '../validate.js';

/*
 * Giving large buffers back before the collector would. A result handed to the caller may be
 * held anywhere, so only the caller can say when it is dead; until the collector finds out,
 * every step of a loop writes its results into fresh memory, a page fault per 4 KiB (fused BN at
 * 4096×1024: 16,386 faults and ~35 ms of a 65 ms step). PyTorch frees a tensor when its last
 * reference goes; TF.js asks for `tf.tidy`. `tidy(fn)` is TF.js's: when fn returns, the tensors
 * it made are released, their buffers go back to where they came from (the pool, or the
 * WebAssembly kernels' memory for the buffers it made; allocation.ts), and the next step's
 * results are written into them.
 *
 * What is kept, so that nothing reachable reads a reused buffer:
 * - whatever fn returns (tensors, in arrays, plain objects, Maps and Sets, at any depth);
 * - tensors stored in some tensor's `.grad` by backward, parameters, module buffers, and keep()'s;
 * - everything the graphs of those reach: their nodes' inputs, so that a returned loss can
 *   still be differentiated, and their `.grad`s.
 * A released tensor is marked: reading its values throws, naming it, instead of reading a
 * buffer someone else now writes. A buffer handed out through `.data` is never reused (the
 * array may be held); `.storage` is the untracked escape hatch, as it is for writes.
 *
 * Only tensors of at least POOL_MIN_VALUES values are tracked: smaller ones cost more to track
 * than their memory is worth, and the collector frees them cheaply.
 */

/**
 * Runs `fn` and releases the tensors it made that it does not return (see above): their
 * buffers are reused by later results instead of waiting for the collector. For training loops:
 * `tidy(() => { optimizer.zeroGrad(); loss(model.call(x), y).backward(); optimizer.step(); })`.
 * fn must be synchronous. Scopes nest: what an inner one returns belongs to the outer one.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`tidy: fn must be a function, got ${describeValue(fn)}`);
  const outer = openTidy;
  const record: TidyRecord = { tensors: [], buffers: new Set(), roots: [] };
  setOpenTidy(record);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    // Nothing is released: the error may carry tensors, and its handler may read them.
    handOver(record, outer, record.tensors, record.buffers);
    throw error;
  } finally {
    setOpenTidy(outer);
  }
  if (isThenable(result)) {
    handOver(record, outer, record.tensors, record.buffers);
    throw new Error('tidy: fn returned a Promise; tidy() releases what fn made when fn returns, so fn must be synchronous (nothing was released)');
  }
  release(record, outer, result);
  return result;
}

/** Exempts `t` from every tidy(), present and future; returns it. */
export function keep(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`keep: t must be a Tensor, got ${describeValue(t)}`);
  t.isKept = true;
  openTidy?.roots.push(t);
  return t;
}

/** Notes that backward stored `g` in a tensor's `.grad`: tidy() keeps it and what its graph reaches. */
export function noteHeldAsGrad(g: Tensor): void {
  g.heldAsGrad = true;
  openTidy?.roots.push(g);
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function release(record: TidyRecord, outer: TidyRecord | null, result: unknown): void {
  const kept = reachable([...tensorsIn(result), ...record.roots, ...record.tensors.filter(isExempt)]);
  const keptBuffers = new Set<Float64Array>();
  const survivors: Tensor[] = [];
  for (const t of record.tensors) {
    if (kept.has(t)) {
      survivors.push(t);
      if (!t.isReleased) keptBuffers.add(t.storage);
    }
  }
  const dead = new Set<Float64Array>();
  for (const t of record.tensors) {
    if (kept.has(t) || t.isReleased) continue;
    const values = t.storage;
    t.markReleased();
    // Only buffers this scope allocated: a view or detach() of an older tensor shares its buffer.
    if (record.buffers.has(values) && !keptBuffers.has(values) && !wasHandedOut(values)) dead.add(values);
  }
  for (const values of dead) releaseValues(values);
  handOver(record, outer, survivors, keptBuffers);
}

/** What an inner scope keeps becomes the outer scope's to release. */
function handOver(record: TidyRecord, outer: TidyRecord | null, tensors: readonly Tensor[], buffers: ReadonlySet<Float64Array>): void {
  if (outer === null) return;
  for (const t of tensors) outer.tensors.push(t);
  for (const b of buffers) outer.buffers.add(b);
  for (const t of record.roots) outer.roots.push(t);
}

const isExempt = (t: Tensor) => t.isKept || t.heldAsGrad || t.isParameter || t.isBuffer;

/** The tensors in a returned value: itself, or inside arrays, plain objects, Maps and Sets. */
function tensorsIn(value: unknown): Tensor[] {
  const found: Tensor[] = [];
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    seen.add(item);
    if (item instanceof Tensor) found.push(item);
    else if (Array.isArray(item)) for (const element of item) stack.push(element);
    else if (item instanceof Map) for (const [k, v] of item) stack.push(k, v);
    else if (item instanceof Set) for (const element of item) stack.push(element);
    else if (isPlainObject(item)) for (const element of Object.values(item)) stack.push(element);
  }
  return found;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** `roots` and every tensor their graphs and `.grad`s reach. */
function reachable(roots: readonly Tensor[]): Set<Tensor> {
  const seen = new Set<Tensor>();
  const stack = [...roots];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.grad !== null) stack.push(t.grad);
    const node = t.node;
    if (node === null) continue;
    for (const input of node.inputs) stack.push(input);
    for (const value of Object.values(node.attrs ?? {})) if (value instanceof Tensor) stack.push(value);
  }
  return seen;
}
