import type { ValuesArena } from '../../tensor/allocation.js';

/*
 * Tensors' values in the kernels' WebAssembly memory, where the sweeps read and write them in
 * place instead of through copies. The memory has a fixed size and is never grown: growing a
 * (non-shared) memory detaches every Float64Array over it, which would empty every tensor living
 * there. Its pages cost nothing until written; what has been written stays with the process
 * (WebAssembly memory never shrinks), so the arena is capped, and a result that finds no room
 * gets an ordinary array, as before.
 *
 * Blocks are handed out as Float64Arrays over the memory and come back three ways:
 * - `release`: tidy() or the backward pass proved nobody holds the view; it is kept, as is, for
 *   the next result of its size (the pool's rule, allocation.ts).
 * - collection: a view nobody reached any more is collected, and a FinalizationRegistry gives its
 *   block back. That only happens between tasks, never inside a synchronous loop; a loop outside
 *   tidy() fills its share (UNSCOPED_BYTES) with dead views and then runs on ordinary arrays
 *   until it yields.
 * - never, once `pin`ned: a view handed out through `.data` may have been turned into other views
 *   of its `.buffer` (`new Uint8Array(t.data.buffer, ...)`), which outlive it unseen; reusing its
 *   block would write under them.
 * Collected blocks (and released views, when nothing else fits) go back to the free runs, kept in
 * address order and merged with their neighbours, so that a loop at one shape leaves the memory
 * whole for a loop at another; a new block is cut from the first run it fits.
 */

/** The arena's sizes to try, largest first: an engine that will not reserve 256 MiB may reserve less. */
export const ARENA_BYTES_TO_TRY = [2 ** 28, 2 ** 26, 2 ** 24] as const;
const PAGE_BYTES = 65_536;
/** Blocks start on cache lines, so a view's first f64x2 never straddles two. */
const ALIGN_BYTES = 64;

interface WasmMemory { readonly buffer: ArrayBuffer }
type MemoryConstructor = new (descriptor: { initial: number; maximum: number }) => WasmMemory;

const alignUp = (bytes: number) => Math.ceil(bytes / ALIGN_BYTES) * ALIGN_BYTES;

/** A free range of the memory, in bytes. */
interface Run { at: number; bytes: number }
/** A block handed out: its range, and whether it counts against UNSCOPED_BYTES now. */
interface Block extends Run { unscoped: boolean }

/**
 * The most that results made outside tidy() may hold of the memory until they come back: those
 * come back only when collected, between tasks, so a synchronous loop would otherwise fill all of
 * it with dead arrays (and the process's resident set with its pages) before falling back.
 */
export const UNSCOPED_BYTES = 2 ** 25;

export class Arena implements ValuesArena {
  readonly buffer: ArrayBuffer;
  /** Released views, by length, each taken again as it is: the common case, a loop's next step. */
  private readonly freeViews = new Map<number, Float64Array[]>();
  /** The bytes of released views: what the arena holds for later results, as the pool does. */
  private releasedBytes = 0;
  /** The rest of the free memory, sorted by address, neighbours merged; at first one run, the whole memory. */
  private readonly runs: Run[];
  private readonly pinned = new WeakSet<Float64Array>();
  private readonly blocks = new WeakMap<Float64Array, Block>();
  private unscopedBytes = 0;
  private readonly collected = new FinalizationRegistry<Block>((block) => {
    this.count(block, false);
    this.free(block);
  });

  constructor(readonly memory: WasmMemory) {
    this.buffer = memory.buffer;
    this.runs = [{ at: 0, bytes: this.buffer.byteLength }];
  }

  /**
   * `length` float64 values whose contents are unspecified, or undefined when there is no room.
   * `scoped`: a tidy() is open, which will give the block back if its result dies there; results
   * made outside one hold at most UNSCOPED_BYTES.
   */
  take(length: number, scoped = true): Float64Array | undefined {
    const bytes = alignUp(length * 8);
    if (!scoped && this.unscopedBytes + bytes > UNSCOPED_BYTES) return undefined;
    const view = this.reuse(length) ?? this.make(length, bytes);
    if (view !== undefined) this.count(this.blocks.get(view)!, !scoped);
    return view;
  }

  private reuse(length: number): Float64Array | undefined {
    const view = this.freeViews.get(length)?.pop();
    if (view !== undefined) this.releasedBytes -= view.byteLength;
    return view;
  }

  private make(length: number, bytes: number): Float64Array | undefined {
    let at = this.carve(bytes);
    if (at === undefined && this.releasedBytes > 0) {
      // Views of other lengths go back to the free runs, where they merge into room for this one.
      this.empty();
      at = this.carve(bytes);
    }
    if (at === undefined) return undefined;
    const made = new Float64Array(this.buffer, at, length);
    const block = { at, bytes, unscoped: false };
    this.blocks.set(made, block);
    this.collected.register(made, block, made);
    return made;
  }

  /** Marks `block` as counting against UNSCOPED_BYTES, or not. */
  private count(block: Block, unscoped: boolean): void {
    if (block.unscoped === unscoped) return;
    this.unscopedBytes += unscoped ? block.bytes : -block.bytes;
    block.unscoped = unscoped;
  }

  owns(values: Float64Array): boolean {
    return values.buffer === this.buffer;
  }

  /** Takes back a view nobody holds, for the next result of its length (a view that is not a whole block of `take`'s, none). */
  release(view: Float64Array): void {
    const block = this.blocks.get(view);
    if (block === undefined || this.pinned.has(view)) return;
    const free = this.freeViews.get(view.length);
    if (free === undefined) this.freeViews.set(view.length, [view]);
    else if (free.includes(view)) return;
    else free.push(view);
    this.releasedBytes += view.byteLength;
    this.count(block, false);
  }

  /** Never reuses `view`'s block (see above); made outside tidy(), it counts against UNSCOPED_BYTES for good. */
  pin(view: Float64Array): void {
    this.pinned.add(view);
    this.collected.unregister(view);
  }

  /** The bytes of released views, held for later results of their length. */
  heldBytes(): number {
    return this.releasedBytes;
  }

  /** The bytes free for results of any length. */
  freeBytes(): number {
    return this.runs.reduce((sum, run) => sum + run.bytes, 0);
  }

  /**
   * Lets go of the released views, as emptyPool() does of the pool's arrays: their blocks go back
   * to the free runs, for results of any length (the memory stays with the process). Returns their bytes.
   */
  empty(): number {
    const bytes = this.releasedBytes;
    for (const views of this.freeViews.values()) {
      for (const view of views) {
        // Unregistered first: the view may be collected later, and its block must not come back twice.
        this.collected.unregister(view);
        this.free(this.blocks.get(view)!);
      }
    }
    this.freeViews.clear();
    this.releasedBytes = 0;
    return bytes;
  }

  /** The first free run of at least `bytes` (first fit keeps the low addresses busy and the high ones whole), cut from its start. */
  private carve(bytes: number): number | undefined {
    const index = this.runs.findIndex((run) => run.bytes >= bytes);
    if (index < 0) return undefined;
    const run = this.runs[index];
    const at = run.at;
    if (run.bytes === bytes) this.runs.splice(index, 1);
    else this.runs[index] = { at: at + bytes, bytes: run.bytes - bytes };
    return at;
  }

  /** Puts a block back among the runs, merged with its neighbours. */
  private free({ at, bytes }: Run): void {
    const { runs } = this;
    // The first run after the block.
    let index = 0;
    for (let high = runs.length; index < high;) {
      const mid = (index + high) >> 1;
      if (runs[mid].at < at) index = mid + 1;
      else high = mid;
    }
    const before = runs[index - 1], after = runs[index];
    const joinsBefore = before !== undefined && before.at + before.bytes === at;
    const joinsAfter = after !== undefined && at + bytes === after.at;
    if (joinsBefore && joinsAfter) {
      runs[index - 1] = { at: before.at, bytes: before.bytes + bytes + after.bytes };
      runs.splice(index, 1);
    } else if (joinsBefore) runs[index - 1] = { at: before.at, bytes: before.bytes + bytes };
    else if (joinsAfter) runs[index] = { at, bytes: bytes + after.bytes };
    else runs.splice(index, 0, { at, bytes });
  }
}

/** A fixed memory of the first size in ARENA_BYTES_TO_TRY the engine grants. */
export function reserveArena(Memory: MemoryConstructor): Arena {
  let lastError: unknown;
  for (const bytes of ARENA_BYTES_TO_TRY) {
    try {
      return new Arena(new Memory({ initial: bytes / PAGE_BYTES, maximum: bytes / PAGE_BYTES }));
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`wasm kernels: no WebAssembly memory of even ${ARENA_BYTES_TO_TRY.at(-1)! / 2 ** 20} MiB could be reserved (${(lastError as Error).message}); use the js kernels: setKernels('js')`);
}
