import { F64, I32, V128, encodeModule, op, type Bytes, type FunctionSpec } from './encoding.js';

/*
 * The batch-norm kernels as "sweeps": one pass over x, read as [rows, channels, spatial], that
 * either stores an elementwise expression or adds expressions into per-channel sums. Each sweep
 * is written once as an expression tree and compiled twice, for f64x2 (two values per
 * instruction) and for the odd value at the end of a row or run:
 *
 * - spatial = 1 ([N, C]): the two lanes are two neighbouring channels, so each channel's sum
 *   adds the rows in the same order as the JavaScript loop and the results are bit-identical.
 *   Sums go through the rows in blocks of ROW_BLOCK rows: a channel pair's parameters and sums are
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
type StoringSweep = Extract<Sweep, { readonly store: Expression }>;

/**
 * Rows per block on [N, C] (the caller's choice, by where the data is): a load and a store of the
 * sums spread over this many rows. In cache, 16 rows ran the summing sweeps a third faster than
 * 4 (and the fused kernels at 64x64 4-7% faster); but over 2 MB read from L3 (x's copy,
 * as squaredDeviations and gradientSums read it in a step), 16 rows ran up to 2.2x slower than
 * 4, and 8 up to 1.45x; 2 rows ran 1.2-1.5x slower than 4 in cache and out.
 */
export const ROW_BLOCK_IN_CACHE = 16, ROW_BLOCK_STREAMING = 4;

// The parameters every sweep function takes, all i32: byte addresses, then counts.
const IN = [0, 1], OUT = [2, 3], PARAMETER = [4, 5, 6, 7], ROWS = 8, CHANNELS = 9, SPATIAL = 10, ROW_BLOCK = 11;
const PARAMS = 12;

const LOCALS: number[] = [];
/** Declares `count` locals of `type` after the parameters; returns their indices. */
function declare(type: number, count: number): number[] {
  const first = PARAMS + LOCALS.length;
  for (let i = 0; i < count; i++) LOCALS.push(type);
  return Array.from({ length: count }, (_, i) => first + i);
}
// E is the byte offset of the element(s) at hand in every stream.
const [E, C, N, VEC_END, QUAD_END, CHANNEL_END, ROW_BYTES, SECOND_ROW, BLOCK_START, BLOCK_BYTES, BLOCK_END] = declare(I32, 11);
/** A group's locals: its sums, its parameters, and a value to square (it is needed twice on the stack). */
const groupLocals = (type: number) => ({ acc: declare(type, 2), parameter: declare(type, 4), squared: declare(type, 1)[0] });
/** f64x2 locals for two groups side by side along a row (see summingFeaturesCode); f64 for one. */
const VECTOR_GROUPS = [groupLocals(V128), groupLocals(V128)], SCALAR_GROUPS = [groupLocals(F64)];

/** Code for f64x2 (two values) or for one f64; a sweep's parameters and sums are always in locals. */
const forms = (vector: boolean) => vector
  ? { load: op.v128Load, store: op.v128Store, add: op.f64x2Add, sub: op.f64x2Sub, mul: op.f64x2Mul, groups: VECTOR_GROUPS, width: 16 }
  : { load: op.f64Load, store: op.f64Store, add: op.f64Add, sub: op.f64Sub, mul: op.f64Mul, groups: SCALAR_GROUPS, width: 8 };
type Form = ReturnType<typeof forms>;

/** Where the values at hand are: `group` widths further along the row from E, in the row at E or the one SECOND_ROW bytes further. */
interface Site {
  readonly group: number;
  readonly row: 0 | 1;
}
const AT_E: Site = { group: 0, row: 0 };

/** The address of a stream's (or the output's) element in `site`'s row, less the group's offset (the load or store adds it). */
const addressOf = (base: number, site: Site) => [...op.get(base), ...op.get(E), ...op.i32Add, ...(site.row === 1 ? [...op.get(SECOND_ROW), ...op.i32Add] : [])];

function compile(e: Expression, form: Form, site: Site): number[] {
  const locals = form.groups[site.group];
  if ('stream' in e) return [...addressOf(IN[e.stream], site), ...form.load(site.group * form.width)];
  if ('parameter' in e) return op.get(locals.parameter[e.parameter]);
  if ('square' in e) return [...compile(e.square, form, site), ...op.tee(locals.squared), ...op.get(locals.squared), ...form.mul];
  return [...compile(e.a, form, site), ...compile(e.b, form, site), ...form[e.op]];
}

function readsStream(e: Expression, stream: 0 | 1): boolean {
  if ('stream' in e) return e.stream === stream;
  if ('parameter' in e) return false;
  if ('square' in e) return readsStream(e.square, stream);
  return readsStream(e.a, stream) || readsStream(e.b, stream);
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

/**
 * The work for the values at `sites`: store them in the output, or add them into the sums'
 * locals. Stores go last, after every site's loads: a store followed by a load whose address
 * is a multiple of 4 KiB away (the next row's, when a row is) would hold the load back.
 */
function body(sweep: Sweep, form: Form, sites: readonly Site[]): number[] {
  if ('store' in sweep) {
    const values = sites.flatMap((site) => [...addressOf(OUT[0], site), ...compile(sweep.store, form, site)]);
    return [...values, ...[...sites].reverse().flatMap((site) => form.store(site.group * form.width))];
  }
  return sites.flatMap((site) => sweep.accumulate.flatMap((expression, t) => {
    const acc = form.groups[site.group].acc[t];
    return [...op.get(acc), ...compile(expression, form, site), ...form.add, ...op.set(acc)];
  }));
}

/** `local` += `amount` (a local). */
const advance = (local: number, amount: Bytes) => [...op.get(local), ...amount, ...op.i32Add, ...op.set(local)];

/** block { loop { if (exit) break; inner; continue } } */
function until(exit: Bytes, inner: Bytes): number[] {
  return [...op.block, ...op.loop, ...exit, ...op.brIf(1), ...inner, ...op.br(0), ...op.end, ...op.end];
}

/** Run `inner` if the count in `local` has `bit` set. */
function ifBit(local: number, bit: number, inner: Bytes): number[] {
  return [...op.get(local), ...op.i32(bit), ...op.i32And, ...op.if, ...inner, ...op.end];
}

/** Loop `inner` `local` times (at least once), counting `local` down. */
function repeat(local: number, inner: Bytes): number[] {
  return [...op.loop, ...inner, ...op.get(local), ...op.i32(1), ...op.i32Sub, ...op.tee(local), ...op.brIf(0), ...op.end];
}

/** `local` = `count` (a local) rounded down to a multiple of `multiple` (a power of two), in bytes of f64. */
const bytesDownTo = (local: number, count: number, multiple: number) => [...op.get(count), ...op.i32(-multiple), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.set(local)];

/** Per-channel values at C (byte offset) and `site`'s group into `locals`, or `locals` back: each of `indices` between `addresses[i]` + C and `locals[i]`. */
function loadAtChannel(addresses: readonly number[], locals: readonly number[], indices: readonly number[], form: Form, site: Site): number[] {
  return indices.flatMap((i) => [...op.get(addresses[i]), ...op.get(C), ...op.i32Add, ...form.load(site.group * form.width), ...op.set(locals[i])]);
}
function storeAtChannel(addresses: readonly number[], locals: readonly number[], indices: readonly number[], form: Form, site: Site): number[] {
  return indices.flatMap((i) => [...op.get(addresses[i]), ...op.get(C), ...op.i32Add, ...op.get(locals[i]), ...form.store(site.group * form.width)]);
}

// The storing code's own locals (see storingFeaturesCode).
const [TURN, STEP, FIRST_STEP, LAST_STEP, SECOND_STREAM, OUTPUT] = declare(I32, 6);
const PARAMETER_FROM_E = declare(I32, 4);

/**
 * Channel pairs a step of storingFeaturesCode takes side by side: two for up to three
 * parameters (affine: 0.80-0.88x the time of one pair), one for four (inputGradient: two pairs'
 * parameters and values fill the 16 vector registers, and ran no faster).
 */
const storingGroups = (sweep: Sweep): 1 | 2 => (usedParameters(sweep).length <= 3 ? 2 : 1);

/**
 * [N, C], a sweep that stores: two rows a turn, E walking the first row in steps of one or two
 * channel pairs, each parameter loaded once for both rows. Every address is E plus one local
 * (E is the first stream's own address, and the other streams, the second row and the
 * parameters are at fixed distances from it during a turn), so V8 holds the loop in registers:
 * computing each address from a base and a channel offset ran out of registers and reloaded
 * them from the stack.
 *
 * Widths that do not divide into steps are done by overlapping, not by separate code: when C is
 * not a multiple of a step, the first step of a row is shorter (channels 0..3, then 1..4, ...);
 * the overlapped values are computed again from the inputs and stored again, equal (so the
 * output must not overlap an input, which the kernels' fresh outputs never do). So there is one
 * copy of the step in the module for each step width, not one for each width left over (fewer
 * channels than a step: see storingCode). The rows of a turn are a row apart, and so, whenever a
 * row is a multiple of 4 KiB, at the same offset within a 4 KiB page; a step's stores go after
 * all its loads, since a load after a store at such an offset waits for it.
 */
function storingFeaturesCode(sweep: StoringSweep, groups: 1 | 2): number[] {
  const form = forms(true), stepBytes = groups * form.width;
  const parameters = usedParameters(sweep), readsSecond = readsStream(sweep.store, 1);
  const alongRow = Array.from({ length: groups }, (_, group) => group);
  const rows = [0, 1];
  /** E + the row's offset + `local` (none: the first stream's address). */
  const at = (row: number, local?: number) => [
    ...op.get(E), ...(row === 1 ? [...op.get(SECOND_ROW), ...op.i32Add] : []), ...(local === undefined ? [] : [...op.get(local), ...op.i32Add]),
  ];
  const value = (e: Expression, row: number, group: number): number[] => {
    if ('stream' in e) return [...at(row, e.stream === 1 ? SECOND_STREAM : undefined), ...form.load(group * form.width)];
    const locals = form.groups[group];
    if ('parameter' in e) return op.get(locals.parameter[e.parameter]);
    if ('square' in e) return [...value(e.square, row, group), ...op.tee(locals.squared), ...op.get(locals.squared), ...form.mul];
    return [...value(e.a, row, group), ...value(e.b, row, group), ...form[e.op]];
  };
  const step = [
    ...alongRow.flatMap((group) => parameters.flatMap((k) => [...at(0, PARAMETER_FROM_E[k]), ...form.load(group * form.width), ...op.set(form.groups[group].parameter[k])])),
    ...alongRow.flatMap((group) => rows.flatMap((row) => [...at(row, OUTPUT), ...value(sweep.store, row, group)])),
    ...[...alongRow].reverse().flatMap((group) => rows.map(() => form.store(group * form.width)).flat()),
  ];
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...(readsSecond ? [...op.get(IN[1]), ...op.get(IN[0]), ...op.i32Sub, ...op.set(SECOND_STREAM)] : []),
    ...op.get(OUT[0]), ...op.get(IN[0]), ...op.i32Sub, ...op.set(OUTPUT),
    // The first step: the channels left over after whole steps (C mod 2·groups), or a whole step.
    ...op.get(CHANNELS), ...op.i32(2 * groups - 1), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.i32(stepBytes),
    ...op.get(CHANNELS), ...op.i32(2 * groups - 1), ...op.i32And, ...op.select, ...op.set(FIRST_STEP),
    // Turns of two rows; a last odd row goes as a pair of itself (SECOND_ROW = 0, its values stored twice).
    ...op.get(IN[0]), ...op.set(TURN),
    ...op.loop,
    ...op.get(ROW_BYTES), ...op.i32(0), ...op.get(N), ...op.i32(1), ...op.i32GtS, ...op.select, ...op.set(SECOND_ROW),
    ...parameters.flatMap((k) => [...op.get(PARAMETER[k]), ...op.get(TURN), ...op.i32Sub, ...op.set(PARAMETER_FROM_E[k])]),
    ...op.get(TURN), ...op.tee(E), ...op.get(ROW_BYTES), ...op.i32Add, ...op.i32(stepBytes), ...op.i32Sub, ...op.set(LAST_STEP),
    // Along the turn's first row: FIRST_STEP, then whole steps, the last ending at the row's end.
    ...op.get(FIRST_STEP), ...op.set(STEP),
    ...op.loop, ...step,
    ...advance(E, op.get(STEP)), ...op.i32(stepBytes), ...op.set(STEP),
    ...op.get(LAST_STEP), ...op.get(E), ...op.i32GeU, ...op.brIf(0),
    ...op.end,
    ...advance(TURN, [...op.get(ROW_BYTES), ...op.i32(2), ...op.i32Mul]),
    ...op.get(N), ...op.i32(2), ...op.i32Sub, ...op.tee(N), ...op.i32(0), ...op.i32GtS, ...op.brIf(0),
    ...op.end,
  ];
}

/**
 * [N, C], a sweep that adds up: for each block of up to ROW_BLOCK rows, for two channel pairs
 * at C side by side (then one pair, then the odd channel), their parameters and sums go into
 * locals, E walks down the block's rows, and the sums go back. Two pairs make two independent
 * chains of additions, so one need not wait for the other's latest sum.
 */
function summingFeaturesCode(sweep: Sweep): number[] {
  const parameters = usedParameters(sweep), sums = sumsOf(sweep);
  const channels = (form: Form, groups: 1 | 2) => {
    const sites: Site[] = groups === 2 ? [AT_E, { group: 1, row: 0 }] : [AT_E];
    return [
      ...sites.flatMap((site) => [...loadAtChannel(PARAMETER, form.groups[site.group].parameter, parameters, form, site), ...loadAtChannel(OUT, form.groups[site.group].acc, sums, form, site)]),
      ...op.get(BLOCK_START), ...op.get(C), ...op.i32Add, ...op.tee(E), ...op.get(BLOCK_BYTES), ...op.i32Add, ...op.set(BLOCK_END),
      ...op.loop, ...body(sweep, form, sites), ...op.get(E), ...op.get(ROW_BYTES), ...op.i32Add, ...op.tee(E), ...op.get(BLOCK_END), ...op.i32Ne, ...op.brIf(0), ...op.end,
      ...sites.flatMap((site) => storeAtChannel(OUT, form.groups[site.group].acc, sums, form, site)),
      ...advance(C, op.i32(groups * form.width)),
    ];
  };
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...bytesDownTo(QUAD_END, CHANNELS, 4),
    ...op.i32(0), ...op.set(BLOCK_START),
    ...op.loop,
    // This block's rows: ROW_BLOCK, or the rows left when fewer.
    ...op.get(N), ...op.get(ROW_BLOCK), ...op.get(N), ...op.get(ROW_BLOCK), ...op.i32LtU, ...op.select, ...op.get(ROW_BYTES), ...op.i32Mul, ...op.set(BLOCK_BYTES),
    ...op.i32(0), ...op.set(C),
    ...until([...op.get(C), ...op.get(QUAD_END), ...op.i32GeU], channels(forms(true), 2)),
    ...ifBit(CHANNELS, 2, channels(forms(true), 1)),
    ...ifBit(CHANNELS, 1, channels(forms(false), 1)),
    ...advance(BLOCK_START, op.get(BLOCK_BYTES)),
    ...op.get(N), ...op.get(ROW_BLOCK), ...op.i32Sub, ...op.tee(N), ...op.i32(0), ...op.i32GtS, ...op.brIf(0),
    ...op.end,
  ];
}

/** [N, C, L]: lanes walk one channel's run of `spatial` values. */
function runsCode(sweep: Sweep): number[] {
  const vector = forms(true), scalar = forms(false);
  const [vectorLocals] = VECTOR_GROUPS, [scalarLocals] = SCALAR_GROUPS;
  const loadParameters = usedParameters(sweep).flatMap((j) => [
    ...op.get(PARAMETER[j]), ...op.get(C), ...op.i32Add, ...op.f64Load(), ...op.tee(scalarLocals.parameter[j]), ...op.f64x2Splat, ...op.set(vectorLocals.parameter[j]),
  ]);
  const sums = sumsOf(sweep);
  const zeroSums = sums.flatMap((t) => [...op.v128Zero, ...op.set(vectorLocals.acc[t])]);
  const laneSums = sums.flatMap((t) => [...op.get(vectorLocals.acc[t]), ...op.f64x2Lane(0), ...op.get(vectorLocals.acc[t]), ...op.f64x2Lane(1), ...op.f64Add, ...op.set(scalarLocals.acc[t])]);
  const addSums = sums.flatMap((t) => {
    const address = [...op.get(OUT[t]), ...op.get(C), ...op.i32Add];
    return [...address, ...address, ...op.f64Load(), ...op.get(scalarLocals.acc[t]), ...op.f64Add, ...op.f64Store()];
  });
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(CHANNEL_END),
    ...repeat(N, [
      ...op.i32(0), ...op.set(C),
      ...op.loop,
      ...loadParameters, ...zeroSums,
      ...op.get(SPATIAL), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.get(E), ...op.i32Add, ...op.set(VEC_END),
      ...until([...op.get(E), ...op.get(VEC_END), ...op.i32GeU], [...body(sweep, vector, [AT_E]), ...advance(E, op.i32(16))]),
      ...laneSums,
      ...ifBit(SPATIAL, 1, [...body(sweep, scalar, [AT_E]), ...advance(E, op.i32(8))]),
      ...addSums,
      ...op.get(C), ...op.i32(8), ...op.i32Add, ...op.tee(C), ...op.get(CHANNEL_END), ...op.i32Ne, ...op.brIf(0),
      ...op.end,
    ]),
  ];
}

/**
 * [N, C], a sweep that stores: with two pairs a step where it has room for them (storingGroups)
 * and the channels fill a step, else one pair (a single channel goes as one run: byRuns).
 */
function storingCode(sweep: StoringSweep): number[] {
  const code = storingGroups(sweep) === 1
    ? storingFeaturesCode(sweep, 1)
    : [...op.get(CHANNELS), ...op.i32(4), ...op.i32LtU, ...op.if, ...storingFeaturesCode(sweep, 1), ...op.else, ...storingFeaturesCode(sweep, 2), ...op.end];
  // Its turns run at least once: none on no rows.
  return [...op.get(N), ...op.i32(0), ...op.i32GtS, ...op.if, ...code, ...op.end];
}

/**
 * Whether a sweep goes through runsCode, as a condition on the stack: on [N, C, L] with L > 1;
 * and a sweep that stores also on a single channel, as one run ([N, 1, L] as [1, 1, N·L]: the
 * same operations on the same parameter, a pair of values at a time).
 */
function byRuns(sweep: Sweep): number[] {
  const notFeatures = [...op.get(SPATIAL), ...op.i32(1), ...op.i32Ne];
  if (!('store' in sweep)) return notFeatures;
  const oneChannel = [...op.get(CHANNELS), ...op.i32(2), ...op.i32LtU];
  return [...oneChannel, ...op.if, ...op.get(SPATIAL), ...op.get(ROWS), ...op.i32Mul, ...op.set(SPATIAL), ...op.i32(1), ...op.set(N), ...op.end, ...notFeatures, ...oneChannel, ...op.i32Or];
}

function sweepFunction(sweep: Sweep): FunctionSpec {
  return {
    name: sweep.name,
    params: PARAMS,
    locals: LOCALS,
    body: [
      ...op.i32(0), ...op.set(E), ...op.get(ROWS), ...op.set(N),
      ...byRuns(sweep), ...op.if, ...runsCode(sweep), ...op.else, ...('store' in sweep ? storingCode(sweep) : summingFeaturesCode(sweep)), ...op.end,
    ],
  };
}

/** The kernels' module: one export per sweep, each (in0, in1, out0, out1, p0..p3, rows, channels, spatial, rowBlock) → (). */
export function sweepModuleBytes(): Uint8Array {
  return encodeModule(SWEEPS.map(sweepFunction));
}
