/*
 * Just enough of the WebAssembly binary format to write a module by hand: LEB128 numbers, the
 * sections in their required order, and the opcodes our kernels use. The kernels are generated as
 * bytes at run time (see sweeps.ts) rather than compiled from a .wat or a C file at build time:
 * nothing to install or build, the same code runs in Node and in a page, and the bytes come from
 * TypeScript a reader can step through. Reference: https://webassembly.github.io/spec/core/binary/
 */

export type Bytes = readonly number[];

/** Unsigned LEB128, for counts, indices and alignments. */
export function unsigned(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, for i32.const. */
export function signed(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

function vector(items: readonly Bytes[]): number[] {
  return [...unsigned(items.length), ...items.flat()];
}

function section(id: number, body: Bytes): number[] {
  return [id, ...unsigned(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsigned(bytes.length), ...bytes];
}

/** A float64's eight bytes, little-endian, as f64.const and v128.const take it. */
function f64Bytes(value: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  return [...new Uint8Array(view.buffer)];
}

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** The instructions the kernels use, by their text-format names. */
export const op = {
  block: [0x02, 0x40], loop: [0x03, 0x40], if: [0x04, 0x40], else: [0x05], end: [0x0b],
  br: (depth: number) => [0x0c, ...unsigned(depth)],
  brIf: (depth: number) => [0x0d, ...unsigned(depth)],
  get: (local: number) => [0x20, ...unsigned(local)],
  set: (local: number) => [0x21, ...unsigned(local)],
  tee: (local: number) => [0x22, ...unsigned(local)],
  i32: (value: number) => [0x41, ...signed(value)],
  i32Add: [0x6a], i32Sub: [0x6b], i32Mul: [0x6c], i32And: [0x71], i32Shl: [0x74], i32GeU: [0x4f], i32LtU: [0x49], i32LtS: [0x48], i32GtS: [0x4a], i32Ne: [0x47],
  i32Eqz: [0x45], i32ShrU: [0x76],
  select: [0x1b],
  i32Or: [0x72],
  // Alignment 3 (8 bytes) for f64; v128 accesses say 8 bytes too: rows of odd width start at 8-byte boundaries.
  // `offset` bytes are added to the address on the stack: a neighbour along the row costs no i32.add.
  f64Load: (offset = 0) => [0x2b, 3, ...unsigned(offset)], f64Store: (offset = 0) => [0x39, 3, ...unsigned(offset)],
  f64Add: [0xa0], f64Sub: [0xa1], f64Mul: [0xa2], f64Div: [0xa3], f64Lt: [0x63], f64Le: [0x65],
  f64Const: (value: number) => [0x44, ...f64Bytes(value)],
  v128Load: (offset = 0) => [0xfd, ...unsigned(0x00), 3, ...unsigned(offset)], v128Store: (offset = 0) => [0xfd, ...unsigned(0x0b), 3, ...unsigned(offset)],
  v128Zero: [0xfd, ...unsigned(0x0c), ...new Array<number>(16).fill(0)],
  f64x2Splat: [0xfd, ...unsigned(0x14)],
  f64x2Lane: (lane: number) => [0xfd, ...unsigned(0x21), lane],
  f64x2Add: [0xfd, ...unsigned(0xf0)], f64x2Sub: [0xfd, ...unsigned(0xf1)], f64x2Mul: [0xfd, ...unsigned(0xf2)], f64x2Div: [0xfd, ...unsigned(0xf3)],
  /** Both lanes `value`. */
  f64x2Const: (value: number) => [0xfd, ...unsigned(0x0c), ...f64Bytes(value), ...f64Bytes(value)],
  f64x2Le: [0xfd, ...unsigned(0x4b)], v128Andnot: [0xfd, ...unsigned(0x4f)],
  /** a < b ? b : a, lane by lane (the spec's pseudo-maximum: a wherever either is NaN, and at ±0 against ±0). */
  f64x2Pmax: [0xfd, ...unsigned(0xf7)],
} as const;

/** `local` += `amount` (code that leaves an i32). */
export const advance = (local: number, amount: Bytes) => [...op.get(local), ...amount, ...op.i32Add, ...op.set(local)];

/** block { loop { if (exit) break; inner; continue } } */
export function until(exit: Bytes, inner: Bytes): number[] {
  return [...op.block, ...op.loop, ...exit, ...op.brIf(1), ...inner, ...op.br(0), ...op.end, ...op.end];
}

/** Loop `inner` `local` times (at least once), counting `local` down. */
export function repeat(local: number, inner: Bytes): number[] {
  return [...op.loop, ...inner, ...op.get(local), ...op.i32(1), ...op.i32Sub, ...op.tee(local), ...op.brIf(0), ...op.end];
}

/**
 * The locals of a function with `params` parameters: `declare(type, count)` declares `count` more
 * of `type` and returns their indices; `locals` lists their types, for its FunctionSpec.
 */
export function localsAfter(params: number): { locals: number[]; declare: (type: number, count: number) => number[] } {
  const locals: number[] = [];
  const declare = (type: number, count: number) => {
    const first = params + locals.length;
    for (let i = 0; i < count; i++) locals.push(type);
    return Array.from({ length: count }, (_, i) => first + i);
  };
  return { locals, declare };
}

export interface FunctionSpec {
  readonly name: string;
  readonly params: number;
  /** Declared locals beyond the parameters, by type, in order. */
  readonly locals: readonly number[];
  readonly body: Bytes;
}

/** Equal neighbours as one entry each: locals are declared as (count, type) pairs. */
function runsOf(values: readonly number[]): { value: number; count: number }[] {
  const runs: { value: number; count: number }[] = [];
  for (const value of values) {
    const last = runs.at(-1);
    if (last?.value === value) last.count++;
    else runs.push({ value, count: 1 });
  }
  return runs;
}

/**
 * A module importing its memory as env.memory and exporting `functions`, all of type
 * (i32 × params) → (). Parameters are i32: byte addresses and counts.
 */
export function encodeModule(functions: readonly FunctionSpec[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(Array.from({ length: f.params }, () => [I32])), 0]);
  const imports = [vector([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])];
  const bodies = functions.map((f) => {
    const locals = vector(runsOf(f.locals).map(({ value, count }) => [...unsigned(count), value]));
    const code = [...locals, ...f.body, ...op.end];
    return [...unsigned(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vector(types)),
    ...section(2, imports.flat()),
    ...section(3, vector(functions.map((_, i) => unsigned(i)))),
    ...section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, ...unsigned(i)]))),
    ...section(10, vector(bodies)),
  ]);
}
