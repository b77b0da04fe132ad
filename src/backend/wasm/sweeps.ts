import { F64, I32, V128, advance, encodeModule, localsAfter, op, repeat, until, type Bytes, type FunctionSpec } from './encoding.js';

/*
 * The kernels as "sweeps": one pass over x, read as [rows, channels, spatial], that
 * either stores an elementwise expression or adds expressions into per-channel sums. Each sweep
 * is written once as an expression tree and compiled twice, for f64x2 (two values per
 * instruction) and for the odd value at the end of a row or run:
 *
 * - spatial = 1 ([N, C]): the two lanes are two neighbouring channels, so each channel's sum
 *   adds the rows in the same order as the JavaScript loop and the results are bit-identical.
 *   Sums go through the rows four at a time: a channel pair's parameters and sums are loaded once
 *   for the four rows, not loaded and stored again for every row.
 * - spatial > 1 ([N, C, H, W]): the lanes walk one channel's run of H·W values, with the
 *   channel's parameters in registers; its sum then rounds in a different order (to ~1e-16).
 *
 * The operations are the JavaScript kernel's, in its order (no fused multiply-add), so an
 * elementwise result is bit-identical whenever its per-channel parameters are.
 */

/**
 * A value per element: a stream (0 = first, 1 = second input), a per-channel parameter, a
 * constant, arithmetic on them, a value squared (computed once), `floored < floor ? floor :
 * floored` (f64x2.pmax: `floored` itself wherever the comparison fails, NaN and −0 against 0
 * included), or `step <= 0 ? 0 : 1` (1 at NaN).
 */
export type Expression =
  | { readonly stream: 0 | 1 }
  | { readonly parameter: 0 | 1 | 2 | 3 }
  | { readonly constant: number }
  | { readonly op: 'add' | 'sub' | 'mul' | 'div'; readonly a: Expression; readonly b: Expression }
  | { readonly square: Expression }
  | { readonly floored: Expression; readonly floor: Expression }
  | { readonly step: Expression };

export type Sweep =
  | { readonly name: string; readonly store: Expression }
  | { readonly name: string; readonly accumulate: readonly Expression[] };

const first = { stream: 0 } as const, second = { stream: 1 } as const;
const p = (index: 0 | 1 | 2 | 3) => ({ parameter: index }) as const;
const add = (a: Expression, b: Expression) => ({ op: 'add', a, b }) as const;
const sub = (a: Expression, b: Expression) => ({ op: 'sub', a, b }) as const;
const mul = (a: Expression, b: Expression) => ({ op: 'mul', a, b }) as const;
const div = (a: Expression, b: Expression) => ({ op: 'div', a, b }) as const;
const square = (a: Expression) => ({ square: a }) as const;
const constant = (value: number) => ({ constant: value }) as const;
const floored = (a: Expression, floor: Expression) => ({ floored: a, floor }) as const;
const step = (a: Expression) => ({ step: a }) as const;

/**
 * Fused batch norm's passes and the explicit graph's sums (see js.ts for the same loops in
 * JavaScript): Σx and Σ(x − μ)² (at μ = 0, Σx²) for sums over leading axes, and for the
 * forward's channels whose one pass loses too much; the forward's store; the backward's two.
 */
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

/** The sweeps of the second module: the first has no room left (MODULES). */
export const MORE_SWEEPS = [
  // x / d, with the divisor d as parameter 0: x / row (BN's (x − μ) / σ), where x·(1/σ) would
  // round differently from x / σ, so the affine store cannot stand in for it.
  { name: 'quotient', store: div(first, p(0)) },
  // Σ x and Σ x², per channel: the forward's moments in one pass where that is accurate (see momentsFromPowerSums).
  { name: 'powerSums', accumulate: [first, square(first)] },
  // x < 0 ? 0 : x: relu, the loop's expression (its `<` is pmax's, so NaN and −0 stay as they are).
  { name: 'relu', store: floored(first, constant(0)) },
  // g · (x <= 0 ? 0 : 1), with g the first stream and x the second: relu's gradient, g·0 at x ≤ 0
  // (−0 for a negative g, NaN for ±∞), g itself at NaN.
  { name: 'reluGradient', store: mul(first, step(second)) },
] as const satisfies readonly Sweep[];

/**
 * The sweeps by module, each compiled to a module of its own on one memory: a module must stay
 * under 4 kB, the most Chromium compiles synchronously on a page's main thread, and the first
 * five sweeps alone take 4,020 bytes.
 */
const MODULES: readonly (readonly Sweep[])[] = [SWEEPS, MORE_SWEEPS];

export type SweepName = (typeof SWEEPS | typeof MORE_SWEEPS)[number]['name'];
type StoringSweep = Extract<Sweep, { readonly store: Expression }>;

// The parameters every sweep function takes, all i32: byte addresses, then counts.
const IN = [0, 1], OUT = [2, 3], PARAMETER = [4, 5, 6, 7], ROWS = 8, CHANNELS = 9, SPATIAL = 10;
const PARAMS = 11;

const { locals: LOCALS, declare } = localsAfter(PARAMS);
// E says where the element(s) at hand are: on [N, C, L] their byte offset in every stream (each
// stream's base is added to it); on [N, C] the first stream's own address, with the other streams,
// rows and per-channel slots at fixed distances from it (see storingFeaturesCode, summingFeaturesCode).
const [E, C, N, VEC_END, CHANNEL_END, ROW_BYTES, SECOND_ROW, THIRD_ROW, FOURTH_ROW, BLOCK_ROWS, BLOCK_BYTES, PAIRS_END, ROWS_TO_GO] = declare(I32, 13);
/** Where the row `index` rows after E's starts, in bytes from E (SECOND_ROW and on: set by the sweep). */
const ROW_OFFSET = [0, SECOND_ROW, THIRD_ROW, FOURTH_ROW];
/** A group's locals: its sums, its parameters, a value needed twice on the stack (to square, or to compare and keep), and each stream's value (for sums that read it twice). */
const groupLocals = (type: number) => ({ acc: declare(type, 2), parameter: declare(type, 4), twice: declare(type, 1)[0], stream: declare(type, 2) });
/** f64x2 locals for two groups side by side along a row (see summingFeaturesCode); f64 for one. */
const VECTOR_GROUPS = [groupLocals(V128), groupLocals(V128)], SCALAR_GROUPS = [groupLocals(F64)];

/**
 * Code for f64x2 (two values) or for one f64; a sweep's parameters and sums are always in locals.
 * `floored` and `step` take their operands' code; the scalar forms select, as the loop's `?:`
 * does, `floored` holding its value in a local (`held`) to compare it and keep it.
 */
const forms = (vector: boolean) => vector
  ? {
    load: op.v128Load, store: op.v128Store, add: op.f64x2Add, sub: op.f64x2Sub, mul: op.f64x2Mul, div: op.f64x2Div, groups: VECTOR_GROUPS, width: 16,
    constant: op.f64x2Const,
    floored: (value: Bytes, floor: Bytes, _held: number) => [...value, ...floor, ...op.f64x2Pmax],
    // 1.0 with its bits cleared where value <= 0 (an all-ones lane), leaving +0.
    step: (value: Bytes) => [...op.f64x2Const(1), ...value, ...op.v128Zero, ...op.f64x2Le, ...op.v128Andnot],
  }
  : {
    load: op.f64Load, store: op.f64Store, add: op.f64Add, sub: op.f64Sub, mul: op.f64Mul, div: op.f64Div, groups: SCALAR_GROUPS, width: 8,
    constant: op.f64Const,
    // select(floor, value, value < floor).
    floored: (value: Bytes, floor: Bytes, held: number) => [...floor, ...value, ...op.tee(held), ...op.get(held), ...floor, ...op.f64Lt, ...op.select],
    step: (value: Bytes) => [...op.f64Const(0), ...op.f64Const(1), ...value, ...op.f64Const(0), ...op.f64Le, ...op.select],
  };
type Form = ReturnType<typeof forms>;

/** Where the values at hand are: `group` widths further along the row from E, in the row at E or `row` rows further (ROW_OFFSET). */
interface Site {
  readonly group: number;
  readonly row: 0 | 1 | 2 | 3;
}
const AT_E: Site = { group: 0, row: 0 };

/** The address of a stream's (or the output's) element in `site`'s row, less the group's offset (the load or store adds it). */
const addressOf = (base: number, site: Site) => [...op.get(base), ...op.get(E), ...op.i32Add, ...(site.row > 0 ? [...op.get(ROW_OFFSET[site.row]), ...op.i32Add] : [])];

/** `stream` gives a stream's value: loaded, unless the caller says otherwise. */
function compile(e: Expression, form: Form, site: Site, stream = (index: 0 | 1) => [...addressOf(IN[index], site), ...form.load(site.group * form.width)]): number[] {
  const locals = form.groups[site.group];
  if ('stream' in e) return stream(e.stream);
  if ('parameter' in e) return op.get(locals.parameter[e.parameter]);
  if ('constant' in e) return form.constant(e.constant);
  const operand = (inner: Expression) => compile(inner, form, site, stream);
  if ('square' in e) return [...operand(e.square), ...op.tee(locals.twice), ...op.get(locals.twice), ...form.mul];
  if ('floored' in e) return form.floored(operand(e.floored), operand(e.floor), locals.twice);
  if ('step' in e) return form.step(operand(e.step));
  return [...operand(e.a), ...operand(e.b), ...form[e.op]];
}

/** The expressions `e` is computed from. */
function operandsOf(e: Expression): Expression[] {
  if ('op' in e) return [e.a, e.b];
  if ('square' in e) return [e.square];
  if ('floored' in e) return [e.floored, e.floor];
  if ('step' in e) return [e.step];
  return [];
}

const parametersOf = (e: Expression): number[] => ('parameter' in e ? [e.parameter] : operandsOf(e).flatMap(parametersOf));

const streamsOf = (e: Expression): number[] => ('stream' in e ? [e.stream] : operandsOf(e).flatMap(streamsOf));

const expressionsOf = (sweep: Sweep) => ('store' in sweep ? [sweep.store] : sweep.accumulate);
const usedParameters = (sweep: Sweep) => [...new Set(expressionsOf(sweep).flatMap(parametersOf))];
const sumsOf = (sweep: Sweep) => ('store' in sweep ? [] : sweep.accumulate.map((_, t) => t));

/**
 * The work for the values at `sites`: store them in the output, or add them into the sums'
 * locals, the sums reading each stream's value at `streamAt` (the address of a site's value, less
 * its group's offset). Stores go last, after every site's loads: a store followed by a load whose
 * address is a multiple of 4 KiB away (the next row's, when a row is) would hold the load back.
 */
function body(sweep: Sweep, form: Form, sites: readonly Site[], streamAt = (index: 0 | 1, site: Site) => addressOf(IN[index], site)): number[] {
  if ('store' in sweep) {
    const values = sites.flatMap((site) => [...addressOf(OUT[0], site), ...compile(sweep.store, form, site)]);
    return [...values, ...[...sites].reverse().flatMap((site) => form.store(site.group * form.width))];
  }
  // A stream that the sums read twice is loaded once per site and kept in a local: V8 does not
  // merge two loads of one address (g loaded once: the backward's sums 0.87-0.90x the time).
  const reads = sweep.accumulate.flatMap(streamsOf);
  return sites.flatMap((site) => {
    const locals = form.groups[site.group], loaded = new Set<number>();
    const stream = (index: 0 | 1) => {
      if (loaded.has(index)) return op.get(locals.stream[index]);
      loaded.add(index);
      const load = [...streamAt(index, site), ...form.load(site.group * form.width)];
      return reads.indexOf(index) === reads.lastIndexOf(index) ? load : [...load, ...op.tee(locals.stream[index])];
    };
    return sweep.accumulate.flatMap((expression, t) => [...op.get(locals.acc[t]), ...compile(expression, form, site, stream), ...form.add, ...op.set(locals.acc[t])]);
  });
}

/** Run `inner` if the count in `local` has `bit` set. */
function ifBit(local: number, bit: number, inner: Bytes): number[] {
  return [...op.get(local), ...op.i32(bit), ...op.i32And, ...op.if, ...inner, ...op.end];
}

/** `local` = `count` (a local) rounded down to a multiple of `multiple` (a power of two), in bytes of f64. */
const bytesDownTo = (local: number, count: number, multiple: number) => [...op.get(count), ...op.i32(-multiple), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.set(local)];

// The storing code's own locals (see storingFeaturesCode).
const [TURN, STEP, FIRST_STEP, LAST_STEP, SECOND_STREAM, OUTPUT, PARAMETERS_AT] = declare(I32, 7);
const PARAMETER_FROM_E = declare(I32, 4);

/**
 * Channel pairs a step of storingFeaturesCode takes side by side: two for up to three
 * parameters (affine: 0.80-0.88x the time of one pair), one for four (inputGradient: two pairs'
 * parameters and values fill the 16 vector registers, and ran no faster).
 */
const storingGroups = (sweep: Sweep): 1 | 2 => (usedParameters(sweep).length <= 3 ? 2 : 1);

/**
 * Rows a turn of storingFeaturesCode takes: four with two pairs a step (affine: its parameters
 * loaded once for four rows; 0.83-0.88x the time of two rows at 64×64 and 4096×1024, no faster
 * at 2 MB arrays, where walking the rows in memory takes most of its time), else three.
 * inputGradient: a turn's rows of each array lie a row apart, and when a row is a multiple of
 * 4 KiB they all fall in one set of the L1 cache (12 ways on the machine measured): three rows
 * of g, x and the output are 9 lines there, and its parameters' table line one more. Three rows
 * ran 0.84-0.94x the time of two (with the table: at 1024×256, 256×1024, 64×64 and one block of
 * each, 128×256 and 32×1024; 1.03x at 4096×1024 in one call); four rows 1.24x at 32×1024, and
 * the module 4,096 bytes, over its limit. Affine on two or three channels (rare) takes three too.
 */
const storingRows = (groups: 1 | 2): 3 | 4 => (groups === 2 ? 4 : 3);

/**
 * Whether a storing sweep on [N, C] reads its parameters from a table laid out as its steps read
 * them (layParameters) rather than from the per-channel arrays: inputGradient, whose step loads
 * four parameters for three rows, then from one line at one address. The sweep alone took
 * 0.88-0.93x the time of the same sweep reading the arrays (each parameter at E plus a local of
 * its own) at 1024×256, 256×1024, 64×64 and one block of the first two, 0.99x at 4096×1024 in
 * one call; filling the table takes 1.6-3.6 µs a call at 256-1024 channels, 0.2 µs at 64.
 * Affine loads three for four rows: 0.94-0.98x the time from a table, but with its filling
 * 0.98-1.01x, and 1.2x at 64×64.
 */
const readsTable = (sweep: Sweep) => usedParameters(sweep).length === 4;

/** The parameters a storing sweep's step reads on [N, C], in the order each channel pair's entry in its table holds them. */
const tableParameters = (sweep: Sweep) => usedParameters(sweep).sort((a, b) => a - b);

/** The most values `layParameters` writes for `channels` channels: the room a caller gives its table. */
export const parameterTableValues = (channels: number) => 4 * channels + 12;

/**
 * Lays out a storing sweep's per-channel parameters (`parameters[k]`: parameter k's values) in
 * `table` as its steps on [N, C] read them (storingFeaturesCode), and returns true; then the
 * sweep takes the table's address as its first parameter address (p0) and reads no other. The
 * table has one entry per step, in the order of a row's steps (the first one, at channel 0, may
 * overlap the second: see storingFeaturesCode), and in an entry each of the step's channel pairs
 * in turn has its parameters' pairs side by side: [μ c, μ c+1, a c, a c+1, b c, b c+1, d c,
 * d c+1] for inputGradient, one 64-byte line, loaded from one address. Returns false, writing
 * nothing, where the sweep reads the per-channel arrays themselves at p0..p3: every other sweep
 * (readsTable), and on spatial > 1 or one channel (runsCode).
 */
export function layParameters(name: SweepName, parameters: readonly Float64Array[], channels: number, spatial: number, table: Float64Array): boolean {
  const order = TABLE_ORDER[name];
  if (order === undefined || spatial !== 1 || channels < 2) return false;
  const step = channels < 4 ? 2 : order.stepChannels, entry = 2 * order.parameters.length;
  // Parameter by parameter, with no branch in the loops: 0.4x the time of going entry by entry.
  for (let i = 0; i < order.parameters.length; i++) {
    const values = parameters[order.parameters[i]];
    let at = 2 * i;
    // The first step, at channel 0; then the others, the first of them where the whole steps start.
    for (let pair = 0; pair < step; pair += 2, at += entry) {
      table[at] = values[pair];
      table[at + 1] = values[pair + 1];
    }
    for (let pair = channels % step || step; pair < channels; pair += 2, at += entry) {
      table[at] = values[pair];
      table[at + 1] = values[pair + 1];
    }
  }
  return true;
}

/** Per storing sweep: the parameters in its table's order, and the channels of a step on four channels or more. */
const TABLE_ORDER: Partial<Record<SweepName, { readonly parameters: readonly number[]; readonly stepChannels: number }>> = Object.fromEntries(
  MODULES.flat().filter((sweep) => 'store' in sweep && readsTable(sweep)).map((sweep) => [sweep.name, { parameters: tableParameters(sweep), stepChannels: 2 * storingGroups(sweep) }]),
);

/**
 * [N, C], a sweep that stores: three or four rows a turn (storingRows), E walking the first row in
 * steps of one or two channel pairs, each parameter loaded once for the turn's rows. Every address
 * is E plus a local or two (E is the first stream's own address, and the other streams, the other
 * rows and the per-channel arrays are at fixed distances from it during a turn), so V8 holds the
 * loop in registers: computing each address from a base and a channel offset ran out of registers
 * and reloaded them from the stack. A sweep that reads a table (readsTable) loads a step's
 * parameters at one address instead, moved on by an entry each step.
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
  const tabled = readsTable(sweep), parameters = tabled ? tableParameters(sweep) : usedParameters(sweep), readsSecond = streamsOf(sweep.store).includes(1);
  const alongRow = Array.from({ length: groups }, (_, group) => group);
  const rows = Array.from({ length: storingRows(groups) }, (_, row) => row as Site['row']);
  /** E + the row's offset + `local` (none: the first stream's address). */
  const at = (row: number, local?: number) => [
    ...op.get(E), ...(row > 0 ? [...op.get(ROW_OFFSET[row]), ...op.i32Add] : []), ...(local === undefined ? [] : [...op.get(local), ...op.i32Add]),
  ];
  /** The stored expression in `row` of `group`, its streams loaded from E (see `at`). */
  const value = (row: Site['row'], group: number) =>
    compile(sweep.store, form, { group, row }, (stream) => [...at(row, stream === 1 ? SECOND_STREAM : undefined), ...form.load(group * form.width)]);
  const step = [
    ...alongRow.flatMap((group) => parameters.flatMap((k, i) => [
      ...(tabled ? [...op.get(PARAMETERS_AT), ...form.load((group * parameters.length + i) * form.width)] : [...at(0, PARAMETER_FROM_E[k]), ...form.load(group * form.width)]),
      ...op.set(form.groups[group].parameter[k]),
    ])),
    ...alongRow.flatMap((group) => rows.flatMap((row) => [...at(row, OUTPUT), ...value(row, group)])),
    ...[...alongRow].reverse().flatMap((group) => rows.map(() => form.store(group * form.width)).flat()),
  ];
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...(readsSecond ? [...op.get(IN[1]), ...op.get(IN[0]), ...op.i32Sub, ...op.set(SECOND_STREAM)] : []),
    ...op.get(OUT[0]), ...op.get(IN[0]), ...op.i32Sub, ...op.set(OUTPUT),
    // The first step: the channels left over after whole steps (C mod 2·groups), or a whole step.
    ...op.get(CHANNELS), ...op.i32(2 * groups - 1), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.i32(stepBytes),
    ...op.get(CHANNELS), ...op.i32(2 * groups - 1), ...op.i32And, ...op.select, ...op.set(FIRST_STEP),
    // Turns of `rows`; in a last turn of fewer, the rows past the last are the last again (row k's
    // offset is row k − 1's plus a row, or nothing once k ≥ N: its values computed and stored again, equal).
    ...op.get(IN[0]), ...op.set(TURN),
    ...op.loop,
    ...rows.slice(1).flatMap((k) => [
      ...(k === 1 ? op.i32(0) : op.get(ROW_OFFSET[k - 1])),
      ...op.get(ROW_BYTES), ...op.i32(0), ...op.get(N), ...op.i32(k), ...op.i32GtS, ...op.select, ...op.i32Add, ...op.set(ROW_OFFSET[k]),
    ]),
    ...(tabled ? [...op.get(PARAMETER[0]), ...op.set(PARAMETERS_AT)]
      : parameters.flatMap((k) => [...op.get(PARAMETER[k]), ...op.get(TURN), ...op.i32Sub, ...op.set(PARAMETER_FROM_E[k])])),
    ...op.get(TURN), ...op.tee(E), ...op.get(ROW_BYTES), ...op.i32Add, ...op.i32(stepBytes), ...op.i32Sub, ...op.set(LAST_STEP),
    // Along the turn's first row: FIRST_STEP, then whole steps, the last ending at the row's end.
    ...op.get(FIRST_STEP), ...op.set(STEP),
    ...op.loop, ...step,
    ...advance(E, op.get(STEP)), ...op.i32(stepBytes), ...op.set(STEP), ...(tabled ? advance(PARAMETERS_AT, op.i32(groups * parameters.length * form.width)) : []),
    ...op.get(LAST_STEP), ...op.get(E), ...op.i32GeU, ...op.brIf(0),
    ...op.end,
    ...advance(TURN, [...op.get(ROW_BYTES), ...op.i32(rows.length), ...op.i32Mul]),
    ...op.get(N), ...op.i32(rows.length), ...op.i32Sub, ...op.tee(N), ...op.i32(0), ...op.i32GtS, ...op.brIf(0),
    ...op.end,
  ];
}

// The summing code's own locals (see summingFeaturesCode).
const [SECOND_FROM_E, ROW_END, DOWN] = declare(I32, 3), ROW_AT = declare(I32, 2);
const PARAMETER_FROM_BLOCK = declare(I32, 4), SUM_FROM_BLOCK = declare(I32, 2);

/**
 * [N, C], a sweep that adds up: blocks of four rows (the last one to four), and in each, first
 * the channel pairs, four rows in one turn: a pair's parameters and sums go into locals, the four
 * rows' values are added in row order, and the sums go back; then the channels left (one to three
 * past the last whole turn; all of them in a last block of fewer than four rows), one at a time
 * down the block. A sweep reading one stream (Σx, Σ(x − μ)²) takes two pairs side by side in a
 * turn, two independent chains of adds: 0.86-0.92x the time of one pair. Reading two (Σg,
 * Σg·(x − μ)), two pairs were no faster, and one keeps the module small.
 *
 * Every address is one add, as in storingFeaturesCode: E is the first stream's own address in
 * the block's first row, the second stream is SECOND_FROM_E further, a row's address is the row
 * before's plus a row (streamAt), and a channel's parameters and sums sit at distances from E
 * fixed for the block (its slots less the block's first address). Computed from a base, a
 * channel offset and a row offset, the addresses took more registers than V8 has, and it
 * reloaded them from the stack every turn: Σg and Σg·(x − μ) now take 0.79-0.89x that time at
 * 1024×256 and 256×1024, Σx and Σ(x − μ)² 0.95-0.99x (near their bounds: Σx reads at the
 * cache's speed, and Σ(x − μ)² takes two adds a value, on a core with two adders).
 * Eight rows a turn (1.01-1.17x) and two (1.06-1.17x) were slower.
 */
function summingFeaturesCode(sweep: Sweep): number[] {
  const parameters = usedParameters(sweep), sums = sumsOf(sweep);
  /** E + `local`: a channel's slot. */
  const fromE = (local: number) => [...op.get(E), ...op.get(local), ...op.i32Add];
  /**
   * A stream's element in `site`'s row from `pointer` (the first stream's address in the first
   * row): the row before's address plus a row, kept in ROW_AT for the row's other group and the
   * next row. V8 then holds the turn in registers (with each row's offset in a local of its own,
   * the backward's sums 1.04-1.05x the time, some of them reloaded from the stack).
   */
  const streamAt = (pointer: number) => {
    const reached = [-1, -1];
    return (index: 0 | 1, site: Site) => {
      if (reached[index] === site.row) return op.get(ROW_AT[index]);
      if (reached[index] !== site.row - 1) throw new Error(`summingFeaturesCode: sites go down the rows in order, got row ${site.row} after row ${reached[index]}`);
      reached[index] = site.row;
      const address = site.row > 0 ? [...op.get(ROW_AT[index]), ...op.get(ROW_BYTES), ...op.i32Add]
        : index === 1 ? [...op.get(pointer), ...op.get(SECOND_FROM_E), ...op.i32Add] : op.get(pointer);
      return [...address, ...op.tee(ROW_AT[index])];
    };
  };
  /** The parameters and sums of the channel(s) at E into locals, `inner`, the sums back. */
  const withSums = (form: Form, inner: Bytes, groups = [0]) => [
    ...groups.flatMap((group) => [
      ...parameters.flatMap((k) => [...fromE(PARAMETER_FROM_BLOCK[k]), ...form.load(group * form.width), ...op.set(form.groups[group].parameter[k])]),
      ...sums.flatMap((t) => [...fromE(SUM_FROM_BLOCK[t]), ...form.load(group * form.width), ...op.set(form.groups[group].acc[t])]),
    ]),
    ...inner,
    ...groups.flatMap((group) => sums.flatMap((t) => [...fromE(SUM_FROM_BLOCK[t]), ...op.get(form.groups[group].acc[t]), ...form.store(group * form.width)])),
  ];
  const vector = forms(true), scalar = forms(false);
  const groups = new Set(expressionsOf(sweep).flatMap(streamsOf)).size === 1 ? [0, 1] : [0];
  return [
    ...op.get(CHANNELS), ...op.i32(3), ...op.i32Shl, ...op.set(ROW_BYTES),
    ...bytesDownTo(VEC_END, CHANNELS, 2 * groups.length),
    ...op.get(IN[1]), ...op.get(IN[0]), ...op.i32Sub, ...op.set(SECOND_FROM_E),
    ...op.get(IN[0]), ...op.set(E),
    ...until([...op.get(N), ...op.i32(1), ...op.i32LtS], [
      ...op.get(N), ...op.i32(4), ...op.get(N), ...op.i32(4), ...op.i32LtS, ...op.select, ...op.tee(BLOCK_ROWS), ...op.get(ROW_BYTES), ...op.i32Mul, ...op.set(BLOCK_BYTES),
      ...parameters.flatMap((k) => [...op.get(PARAMETER[k]), ...op.get(E), ...op.i32Sub, ...op.set(PARAMETER_FROM_BLOCK[k])]),
      ...sums.flatMap((t) => [...op.get(OUT[t]), ...op.get(E), ...op.i32Sub, ...op.set(SUM_FROM_BLOCK[t])]),
      ...op.get(E), ...op.get(ROW_BYTES), ...op.i32Add, ...op.set(ROW_END),
      // The pairs only in a block of four rows.
      ...op.get(E), ...op.get(VEC_END), ...op.i32(0), ...op.get(BLOCK_ROWS), ...op.i32(4), ...op.i32And, ...op.select, ...op.i32Add, ...op.set(PAIRS_END),
      ...until([...op.get(E), ...op.get(PAIRS_END), ...op.i32GeU], [
        ...withSums(vector, body(sweep, vector, ([0, 1, 2, 3] as const).flatMap((row) => groups.map((group) => ({ group, row }))), streamAt(E)), groups),
        ...advance(E, op.i32(16 * groups.length)),
      ]),
      // The channels left, DOWN walking each down the block while E stays at its slots' distance.
      ...until([...op.get(E), ...op.get(ROW_END), ...op.i32GeU], [
        ...withSums(scalar, [
          ...op.get(E), ...op.set(DOWN), ...op.get(BLOCK_ROWS), ...op.set(ROWS_TO_GO),
          ...repeat(ROWS_TO_GO, [...body(sweep, scalar, [AT_E], streamAt(DOWN)), ...advance(DOWN, op.get(ROW_BYTES))]),
        ]),
        ...advance(E, op.i32(8)),
      ]),
      // E is at the end of the block's first row: on to the next block.
      ...advance(E, [...op.get(BLOCK_BYTES), ...op.get(ROW_BYTES), ...op.i32Sub]),
      ...op.get(N), ...op.get(BLOCK_ROWS), ...op.i32Sub, ...op.set(N),
    ]),
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

/**
 * Whether a sweep's values do not depend on the channels: one that stores and reads no
 * parameter (relu and its gradient). It takes [N, C, L] as one run of N·C·L values, and its
 * module holds only runsCode (the [N, C] code for two storing sweeps would not fit in 4 kB).
 */
const elementwise = (sweep: Sweep) => 'store' in sweep && usedParameters(sweep).length === 0;

function sweepFunction(sweep: Sweep): FunctionSpec {
  const oneRun = [...op.get(ROWS), ...op.get(CHANNELS), ...op.i32Mul, ...op.get(SPATIAL), ...op.i32Mul, ...op.set(SPATIAL), ...op.i32(1), ...op.tee(N), ...op.set(CHANNELS)];
  return {
    name: sweep.name,
    params: PARAMS,
    locals: LOCALS,
    body: [
      ...op.i32(0), ...op.set(E),
      ...(elementwise(sweep) ? [...oneRun, ...runsCode(sweep)] : [
        ...op.get(ROWS), ...op.set(N),
        ...byRuns(sweep), ...op.if, ...runsCode(sweep), ...op.else, ...('store' in sweep ? storingCode(sweep) : summingFeaturesCode(sweep)), ...op.end,
      ]),
    ],
  };
}

/** The kernels' modules (MODULES): one export per sweep, each (in0, in1, out0, out1, p0..p3, rows, channels, spatial) → () (p0 a table where layParameters laid one). */
export function sweepModulesBytes(): Uint8Array[] {
  return MODULES.map((sweeps) => encodeModule(sweeps.map(sweepFunction)));
}
