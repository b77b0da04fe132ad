import { F64, I32, V128, encodeModule, op, type Bytes, type FunctionSpec } from './encoding.js';

/*
 * The batch-norm kernels as "sweeps": one pass over x, read as [rows, channels, spatial], that
 * either stores an elementwise expression or adds expressions into per-channel sums. Each sweep
 * is written once as an expression tree and compiled twice, for f64x2 (two values per
 * instruction) and for the odd value at the end of a row or run:
 *
 * - spatial = 1 ([N, C]): the two lanes are two neighbouring channels, so each channel's sum
 *   adds the rows in the same order as the JavaScript loop and the results are bit-identical.
 *   Sums go through the rows in blocks of ROW_BLOCK: a channel pair's parameters and sums are
 *   loaded once per block and held in registers down its rows, not loaded and stored again for
 *   every row.
 * - spatial > 1 ([N, C, H, W]): the lanes walk one channel's run of H·W values, with the
 *   channel's parameters in registers; its sum then rounds in a different order (to ~1e-16).
 *
 * The operations are the JavaScript kernel's, in its order (no fused multiply-add), so an
 * elementwise result is bit-identical whenever its per-channel parameters are.
 */

/** A value per element: a stream (0 = first, 1 = second input), a per-channel parameter, arithmetic on them, or a value squared (computed once). */
export type Expression =
  | { readonly stream: 0 | 1 }
  | { readonly parameter: 0 | 1 | 2 | 3 }
  | { readonly op: 'add' | 'sub' | 'mul'; readonly a: Expression; readonly b: Expression }
  | { readonly square: Expression };

export type Sweep =
  | { readonly name: string; readonly store: Expression }
  | { readonly name: string; readonly accumulate: readonly Expression[] };

const first = { stream: 0 } as const, second = { stream: 1 } as const;
const p = (index: 0 | 1 | 2 | 3) => ({ parameter: index }) as const;
const add = (a: Expression, b: Expression) => ({ op: 'add', a, b }) as const;
const sub = (a: Expression, b: Expression) => ({ op: 'sub', a, b }) as const;
const mul = (a: Expression, b: Expression) => ({ op: 'mul', a, b }) as const;
const square = (a: Expression) => ({ square: a }) as const;

/** The five passes of fused batch norm (see js.ts for the same loops in JavaScript). */
export const SWEEPS = [
  // Σ x, per channel.
  { name: 'channelSum', accumulate: [first] },
  // Σ (x − μ)², with μ as parameter 0.
  { name: 'squaredDeviations', accumulate: [square(sub(first, p(0)))] },
  // (x − μ) · scale + shift.
  { name: 'affine', store: add(mul(sub(first, p(0)), p(1)), p(2)) },
  // Σ g and Σ g · (x − μ), with g the first stream and x the second.
  { name: 'gradientSums', accumulate: [first, mul(first, sub(second, p(0)))] },
  // a · g + b · (x − μ) + d.
  { name: 'inputGradient', store: add(add(mul(p(1), first), mul(p(2), sub(second, p(0)))), p(3)) },
] as const satisfies readonly Sweep[];

export type SweepName = (typeof SWEEPS)[number]['name'];

/** Rows per block on [N, C]: enough to spread a load of the parameters and sums over several rows, few enough for the prefetcher to follow every row's stream. */
const ROW_BLOCK = 4;

// The parameters every sweep function takes, all i32: byte addresses, then counts.
const IN = [0, 1], OUT = [2, 3], PARAMETER = [4, 5, 6, 7], ROWS = 8, CHANNELS = 9, SPATIAL = 10;
const PARAMS = 11;
// Locals after the parameters: E is the byte offset of the element(s) at hand in every stream.
const E = 11, C = 12, N = 13, VEC_END = 14, CHANNEL_END = 15, ROW_BYTES = 16, BLOCK_START = 17, BLOCK_BYTES = 18, BLOCK_END = 19;
const ACC_V = [20, 21], PARAM_V = [22, 23, 24, 25], SQUARED_V = 26;
const ACC_S = [27, 28], PARAM_S = [29, 30, 31, 32], SQUARED_S = 33;
const LOCALS = [I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, F64, F64, F64, F64, F64, F64, F64];

/** Code for f64x2 (two values) or for one f64; a sweep's parameters and sums are always in locals. */
const forms = (vector: boolean) => vector
  ? { load: op.v128Load, store: op.v128Store, add: op.f64x2Add, sub: op.f64x2Sub, mul: op.f64x2Mul, acc: ACC_V, parameter: PARAM_V, squared: SQUARED_V, width: 16 }
  : { load: op.f64Load, store: op.f64Store, add: op.f64Add, sub: op.f64Sub, mul: op.f64Mul, acc: ACC_S, parameter: PARAM_S, squared: SQUARED_S, width: 8 };
type Form = ReturnType<typeof forms>;

function compile(e: Expression, form: Form): number[] {
  if ('stream' in e) return [...op.get(IN[e.stream]), ...op.get(E), ...op.i32Add, ...form.load];
  if ('parameter' in e) return op.get(form.parameter[e.parameter]);
  if ('square' in e) return [...compile(e.square, form), ...op.tee(form.squared), ...op.get(form.squared), ...form.mul];
  return [...compile(e.a, form), ...compile(e.b, form), ...form[e.op]];
}

function parametersOf(e: Expression): number[] {
  if ('stream' in e) return [];
  if ('parameter' in e) return [e.parameter];
  if ('square' in e) return parametersOf(e.square);
  return [...parametersOf(e.a), ...parametersOf(e.b)];
}

const expressionsOf = (sweep: Sweep) => ('store' in sweep ? [sweep.store] : sweep.accumulate);
const usedParameters = (sweep: Sweep) => [...new Set(expressionsOf(sweep).flatMap(parametersOf))];
const sumsOf = (sweep: Sweep) => ('store' in sweep ? [] : sweep.accumulate.map((_, t) => t));

/** The work for the value(s) at E: store them at E in the output, or add them into the sums' locals. */
function body(sweep: Sweep, form: Form): number[] {
  if ('store' in sweep) return [...op.get(OUT[0]), ...op.get(E), ...op.i32Add, ...compile(sweep.store, form), ...form.store];
  return sweep.accumulate.flatMap((expression, t) => [...op.get(form.acc[t]), ...compile(expression, form), ...form.add, ...op.set(form.acc[t])]);
}

/** `local` += `amount` (a local). */
const advance = (local: number, amount: Bytes) => [...op.get(local), ...amount, ...op.i32Add, ...op.set(local)];

/** block { loop { if (exit) break; inner; continue } } */
function until(exit: Bytes, inner: Bytes): number[] {
  return [...op.block, ...op.loop, ...exit, ...op.brIf(1), ...inner, ...op.br(0), ...op.end, ...op.end];
}

/** Run `inner` if the count in `local` is odd. */
function ifOdd(local: number, inner: Bytes): number[] {
  return [...op.get(local), ...op.i32(1), ...op.i32And, ...op.if, ...inner, ...op.end];
}

/** Loop `inner` `local` times (at least once), counting `local` down. */
function repeat(local: number, inner: Bytes): number[] {
  return [...op.loop, ...inner, ...op.get(local), ...op.i32(1), ...op.i32Sub, ...op.tee(local), ...op.brIf(0), ...op.end];
}

/** Per-channel values at C (byte offset) into locals, or locals back: each of `indices` between `addresses[i]` + C and `locals[i]`. */
function loadAtChannel(addresses: readonly number[], locals: readonly number[], indices: readonly number[], form: Form): number[] {
  return indices.flatMap((i) => [...op.get(addresses[i]), ...op.get(C), ...op.i32Add, ...form.load, ...op.set(locals[i])]);
}
function storeAtChannel(addresses: readonly number[], locals: readonly number[], indices: readonly number[], form: Form): number[] {
  return indices.flatMap((i) => [...op.get(addresses[i]), ...op.get(C), ...op.i32Add, ...op.get(locals[i]), ...form.store]);
}

/**
 * [N, C], a sweep that stores: row by row, E walking each row in order (a channel pair's
 * parameters come from the first level of cache). Walking down a block's rows instead would
 * put a store and the next row's loads a multiple of 4 KiB apart whenever a row is (C = 512,
 * 1024, ...), and the core then holds each load back for the store it seems to alias.
 */
function storingFeaturesCode(sweep: Sweep): number[] {
  const parameters = usedParameters(sweep);
  const pair = (form: Form) => [...loadAtChannel(PARAMETER, form.parameter, parameters, form), ...body(sweep, form), ...advance(E, op.i32(form.width)), ...advance(C, op.i32(form.width))];
  return [
    ...op.get(CHANNELS), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.set(VEC_END),
    ...repeat(N, [
      ...op.i32(0), ...op.set(C),
      ...until([...op.get(C), ...op.get(VEC_END), ...op.i32GeU], pair(forms(true))),
      ...ifOdd(CHANNELS, pair(forms(false))),
    ]),
  ];
}

/**
 * [N, C], a sweep that adds up: for each block of up to ROW_BLOCK rows, for each channel pair
 * at C (then the odd channel), the pair's parameters and sums go into locals, E walks down the
 * block's rows, and the sums go back.
 */
function summingFeaturesCode(sweep: Sweep): number[] {
  const parameters = usedParameters(sweep), sums = sumsOf(sweep);
  const pair = (form: Form) => [
    ...loadAtChannel(PARAMETER, form.parameter, parameters, form),
    ...loadAtChannel(OUT, form.acc, sums, form),
    ...op.get(BLOCK_START), ...op.get(C), ...op.i32Add, ...op.tee(E), ...op.get(BLOCK_BYTES), ...op.i32Add, ...op.set(BLOCK_END),
    ...op.loop, ...body(sweep, form), ...op.get(E), ...op.get(ROW_BYTES), ...op.i32Add, ...op.tee(E), ...op.get(BLOCK_END), ...op.i32Ne, ...op.brIf(0), ...op.end,
    ...storeAtChannel(OUT, form.acc, sums, form),
  ];
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...op.get(CHANNELS), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.set(VEC_END),
    ...op.i32(0), ...op.set(BLOCK_START),
    ...op.loop,
    // This block's rows: ROW_BLOCK, or the rows left when fewer.
    ...op.get(N), ...op.i32(ROW_BLOCK), ...op.get(N), ...op.i32(ROW_BLOCK), ...op.i32LtU, ...op.select, ...op.get(ROW_BYTES), ...op.i32Mul, ...op.set(BLOCK_BYTES),
    ...op.i32(0), ...op.set(C),
    ...until([...op.get(C), ...op.get(VEC_END), ...op.i32GeU], [...pair(forms(true)), ...advance(C, op.i32(16))]),
    ...ifOdd(CHANNELS, pair(forms(false))),
    ...advance(BLOCK_START, op.get(BLOCK_BYTES)),
    ...op.get(N), ...op.i32(ROW_BLOCK), ...op.i32Sub, ...op.tee(N), ...op.i32(0), ...op.i32GtS, ...op.brIf(0),
    ...op.end,
  ];
}

/** [N, C, L]: lanes walk one channel's run of `spatial` values. */
function runsCode(sweep: Sweep): number[] {
  const vector = forms(true), scalar = forms(false);
  const loadParameters = usedParameters(sweep).flatMap((j) => [
    ...op.get(PARAMETER[j]), ...op.get(C), ...op.i32Add, ...op.f64Load, ...op.tee(PARAM_S[j]), ...op.f64x2Splat, ...op.set(PARAM_V[j]),
  ]);
  const sums = sumsOf(sweep);
  const zeroSums = sums.flatMap((t) => [...op.v128Zero, ...op.set(ACC_V[t])]);
  const laneSums = sums.flatMap((t) => [...op.get(ACC_V[t]), ...op.f64x2Lane(0), ...op.get(ACC_V[t]), ...op.f64x2Lane(1), ...op.f64Add, ...op.set(ACC_S[t])]);
  const addSums = sums.flatMap((t) => {
    const address = [...op.get(OUT[t]), ...op.get(C), ...op.i32Add];
    return [...address, ...address, ...op.f64Load, ...op.get(ACC_S[t]), ...op.f64Add, ...op.f64Store];
  });
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(CHANNEL_END),
    ...repeat(N, [
      ...op.i32(0), ...op.set(C),
      ...op.loop,
      ...loadParameters, ...zeroSums,
      ...op.get(SPATIAL), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.get(E), ...op.i32Add, ...op.set(VEC_END),
      ...until([...op.get(E), ...op.get(VEC_END), ...op.i32GeU], [...body(sweep, vector), ...advance(E, op.i32(16))]),
      ...laneSums,
      ...ifOdd(SPATIAL, [...body(sweep, scalar), ...advance(E, op.i32(8))]),
      ...addSums,
      ...op.get(C), ...op.i32(8), ...op.i32Add, ...op.tee(C), ...op.get(CHANNEL_END), ...op.i32Ne, ...op.brIf(0),
      ...op.end,
    ]),
  ];
}

function sweepFunction(sweep: Sweep): FunctionSpec {
  return {
    name: sweep.name,
    params: PARAMS,
    locals: LOCALS,
    body: [
      ...op.i32(0), ...op.set(E), ...op.get(ROWS), ...op.set(N),
      ...op.get(SPATIAL), ...op.i32(1), ...op.i32Ne, ...op.if, ...runsCode(sweep), ...op.else, ...('store' in sweep ? storingFeaturesCode(sweep) : summingFeaturesCode(sweep)), ...op.end,
    ],
  };
}

/** The kernels' module: one export per sweep, each (in0, in1, out0, out1, p0..p3, rows, channels, spatial) → (). */
export function sweepModuleBytes(): Uint8Array {
  return encodeModule(SWEEPS.map(sweepFunction));
}
