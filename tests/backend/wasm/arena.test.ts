import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena, UNSCOPED_BYTES } from '../../../src/backend/wasm/arena.js';

/*
 * The WebAssembly memory that large tensors' values live in (src/backend/wasm/arena.ts), on a
 * memory of its own: 1 MiB, so that running out of room is quick.
 */

const PAGES = 16;
// Our lib setting leaves out the DOM types that declare WebAssembly.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } } }).WebAssembly;
const newArena = () => new Arena(new Memory({ initial: PAGES, maximum: PAGES }));
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** True when the two views share a byte. */
const overlap = (a: Float64Array, b: Float64Array) => a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;

describe('Arena', () => {
  it('hands out views of the memory of the asked length, on cache lines, none sharing a byte', () => {
    const arena = newArena();
    const views = [1, 5, 8, 1000, 3].map((length) => arena.take(length)!);
    views.forEach((view, i) => {
      expect(view.length).toBe([1, 5, 8, 1000, 3][i]);
      expect(view.buffer).toBe(arena.buffer);
      expect(arena.owns(view)).toBe(true);
      expect(view.byteOffset % 64).toBe(0);
      for (const other of views.slice(i + 1)) expect(overlap(view, other)).toBe(false);
    });
    expect(arena.owns(new Float64Array(8))).toBe(false);
  });

  it('gives a released view to the next result of its length, and holds its bytes until then', () => {
    const arena = newArena();
    const view = arena.take(100)!;
    arena.release(view);
    arena.release(view); // given back twice (a backward pass, then its tidy): held once
    arena.release(view.subarray(10, 20)); // not a block of its own: ignored
    expect(arena.heldBytes()).toBe(800);
    expect(arena.take(99)).not.toBe(view);
    expect(arena.take(100)).toBe(view);
    expect(arena.heldBytes()).toBe(0);
  });

  it('says when it has no room, and makes room from views released at other lengths', () => {
    const arena = newArena();
    const bytes = arena.buffer.byteLength;
    const quarters = [0, 1, 2, 3].map(() => arena.take(bytes / 32)!);
    expect(arena.take(bytes / 8 / 2)).toBeUndefined();
    for (const view of quarters) arena.release(view);
    // Four quarters merge into one run: a result of the whole memory fits, and nothing is held any more.
    const whole = arena.take(bytes / 8)!;
    expect(whole.byteOffset).toBe(0);
    expect(arena.heldBytes()).toBe(0);
  });

  it('never reuses a pinned view (handed out through .data)', () => {
    const arena = newArena();
    const pinned = arena.take(64)!;
    arena.pin(pinned);
    arena.release(pinned);
    expect(arena.heldBytes()).toBe(0);
    expect(arena.take(64)).not.toBe(pinned);
    arena.empty();
    const rest = arena.take(arena.freeBytes() / 8)!;
    expect(overlap(rest, pinned)).toBe(false);
  });

  it('lets results made outside tidy() hold at most UNSCOPED_BYTES until they come back', () => {
    const arena = new Arena(new Memory({ initial: 2 * UNSCOPED_BYTES / 65_536, maximum: 2 * UNSCOPED_BYTES / 65_536 }));
    const quarter = UNSCOPED_BYTES / 8 / 4;
    const unscoped = [0, 1, 2, 3].map(() => arena.take(quarter, false)!);
    expect(unscoped.every((view) => view !== undefined)).toBe(true);
    expect(arena.take(quarter, false)).toBeUndefined();
    // A tidy() gives its blocks back itself: those still find room.
    const scoped = arena.take(quarter, true)!;
    expect(scoped).toBeDefined();
    // A block given back, and taken again inside a tidy(), no longer counts; its room is the unscoped results' again.
    arena.release(unscoped[0]);
    expect(arena.take(quarter, true)).toBe(unscoped[0]);
    expect(arena.take(quarter, false)).toBeDefined();
    expect(arena.take(quarter, false)).toBeUndefined();
  });

  it('merges freed blocks into whole runs whatever the order (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }).chain((lengths) => fc.tuple(fc.constant(lengths), fc.shuffledSubarray(lengths.map((_, i) => i), { minLength: lengths.length }))),
      ([lengths, order]) => {
        const arena = newArena();
        const views = lengths.map((length) => arena.take(length));
        for (const i of order) if (views[i] !== undefined) arena.release(views[i]!);
        arena.empty();
        expect(arena.heldBytes()).toBe(0);
        expect(arena.freeBytes()).toBe(arena.buffer.byteLength);
        expect(arena.take(arena.buffer.byteLength / 8)?.byteOffset).toBe(0);
      },
    ), { numRuns: 200 });
  });

  it('gets back the blocks of views the collector found dead (between tasks), but not pinned ones', () => {
    // A process of its own, for --expose-gc: the registry's callbacks run only after a collection, between tasks.
    const script = `
      import { Arena } from './src/backend/wasm/arena.ts';
      const arena = new Arena(new WebAssembly.Memory({ initial: ${PAGES}, maximum: ${PAGES} }));
      const pinned = arena.take(1000);
      arena.pin(pinned);
      for (let i = 0; i < 100; i++) arena.take(1000, i % 2 === 0);
      const full = arena.take(50_000) === undefined;
      // The registry's callbacks come in a task of their own some time after the collection.
      for (let wait = 0; wait < 100 && arena.freeBytes() < arena.buffer.byteLength - pinned.byteLength; wait++) {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const free = arena.freeBytes();
      console.log(JSON.stringify({ full, free, total: arena.buffer.byteLength, pinnedBytes: pinned.byteLength }));
    `;
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const { full, free, total, pinnedBytes } = JSON.parse(run.stdout) as Record<string, number | boolean>;
    expect(full).toBe(true);
    expect(free).toBe((total as number) - (pinnedBytes as number));
  });
});
