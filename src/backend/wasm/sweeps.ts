import { F64, I32, V128, encodeModule, op, type Bytes, type FunctionSpec } from './encoding.js';

/*
 * The batch-norm kernels as "sweeps": one pass over x, read as [rows, channels, spatial], that
 * either stores an elementwise expression or adds expressions into per-channel sums. Each sweep
 * is written once as an expression tree and compiled twice, for f64x2 (two values per
 * instruction) and for the odd value at the end of a row or run:
 *
 * - spatial = 1 ([N, C]): the two lanes are two neighbouring channels, so each channel's sum
 *   adds the rows in the same order as the JavaScript loop and the results are bit-identical.
 * - spatial > 1 ([N, C, H, W]): the lanes walk one channel's run of H·W values, with the
 *   channel's parameters in registers; its sum then rounds in a different order (to ~1e-16).
 *
 * The operations are the JavaScript kernel's, in its order (no fused multiply-add), so an
 * elementwise result is bit-identical whenever its per-channel parameters are.
 */

/** A value per element: a stream (0 = first, 1 = second input), a per-channel parameter, or arithmetic on them. */
export type Expression =
  | { readonly stream: 0 | 1 }
  | { readonly parameter: 0 | 1 | 2 | 3 }
  | { readonly op: 'add' | 'sub' | 'mul'; readonly a: Expression; readonly b: Expression };

export type Sweep =
  | { readonly name: string; readonly store: Expression }
  | { readonly name: string; readonly accumulate: readonly Expression[] };

const first = { stream: 0 } as const, second = { stream: 1 } as const;
const p = (index: 0 | 1 | 2 | 3) => ({ parameter: index }) as const;
const add = (a: Expression, b: Expression) => ({ op: 'add', a, b }) as const;
const sub = (a: Expression, b: Expression) => ({ op: 'sub', a, b }) as const;
const mul = (a: Expression, b: Expression) => ({ op: 'mul', a, b }) as const;

/** The five passes of fused batch norm (see js.ts for the same loops in JavaScript). */
export const SWEEPS = [
  // Σ x, per channel.
  { name: 'channelSum', accumulate: [first] },
  // Σ (x − μ)², with μ as parameter 0.
  { name: 'squaredDeviations', accumulate: [mul(sub(first, p(0)), sub(first, p(0)))] },
  // (x − μ) · scale + shift.
  { name: 'affine', store: add(mul(sub(first, p(0)), p(1)), p(2)) },
  // Σ g and Σ g · (x − μ), with g the first stream and x the second.
  { name: 'gradientSums', accumulate: [first, mul(first, sub(second, p(0)))] },
  // a · g + b · (x − μ) + d.
  { name: 'inputGradient', store: add(add(mul(p(1), first), mul(p(2), sub(second, p(0)))), p(3)) },
] as const satisfies readonly Sweep[];

export type SweepName = (typeof SWEEPS)[number]['name'];

// The parameters every sweep function takes, all i32: byte addresses, then counts.
const IN = [0, 1], OUT = [2, 3], PARAMETER = [4, 5, 6, 7], ROWS = 8, CHANNELS = 9, SPATIAL = 10;
const PARAMS = 11;
// Locals after the parameters.
const E = 11, C = 12, N = 13, VEC_END = 14, CHANNEL_END = 15;
const ACC_V = [16, 17], ACC_S = [18, 19], PARAM_V = [20, 21, 22, 23], PARAM_S = [24, 25, 26, 27];
const LOCALS = [I32, I32, I32, I32, I32, V128, V128, F64, F64, V128, V128, V128, V128, F64, F64, F64, F64];

interface Mode {
  readonly vector: boolean;
  /** Parameters held in locals for a run (spatial > 1), or loaded per channel pair (spatial = 1). */
  readonly runs: boolean;
}

function compile(e: Expression, mode: Mode): number[] {
  if ('stream' in e) return [...op.get(IN[e.stream]), ...op.get(E), ...op.i32Add, ...(mode.vector ? op.v128Load : op.f64Load)];
  if ('parameter' in e) {
    if (mode.runs) return op.get((mode.vector ? PARAM_V : PARAM_S)[e.parameter]);
    return [...op.get(PARAMETER[e.parameter]), ...op.get(C), ...op.i32Add, ...(mode.vector ? op.v128Load : op.f64Load)];
  }
  const code = { add: [op.f64x2Add, op.f64Add], sub: [op.f64x2Sub, op.f64Sub], mul: [op.f64x2Mul, op.f64Mul] }[e.op][mode.vector ? 0 : 1];
  return [...compile(e.a, mode), ...compile(e.b, mode), ...code];
}

function parametersOf(e: Expression): number[] {
  if ('stream' in e) return [];
  if ('parameter' in e) return [e.parameter];
  return [...parametersOf(e.a), ...parametersOf(e.b)];
}

/** The work for the value(s) at E: store them, or add them into the sums (memory for spatial = 1, locals for runs). */
function body(sweep: Sweep, mode: Mode): number[] {
  const width = mode.vector ? 16 : 8;
  const step = [...op.get(E), ...op.i32(width), ...op.i32Add, ...op.set(E)];
  if ('store' in sweep) {
    return [...op.get(OUT[0]), ...op.get(E), ...op.i32Add, ...compile(sweep.store, mode), ...(mode.vector ? op.v128Store : op.f64Store), ...step];
  }
  const sums = sweep.accumulate.flatMap((expression, t) => {
    if (mode.runs) {
      const acc = (mode.vector ? ACC_V : ACC_S)[t];
      return [...op.get(acc), ...compile(expression, mode), ...(mode.vector ? op.f64x2Add : op.f64Add), ...op.set(acc)];
    }
    const address = [...op.get(OUT[t]), ...op.get(C), ...op.i32Add];
    const [load, addOp, store] = mode.vector ? [op.v128Load, op.f64x2Add, op.v128Store] : [op.f64Load, op.f64Add, op.f64Store];
    return [...address, ...address, ...load, ...compile(expression, mode), ...addOp, ...store];
  });
  return [...sums, ...step];
}

/** while (E < VEC_END) { vector body } */
function vectorLoop(inner: Bytes): number[] {
  return [...op.block, ...op.loop, ...op.get(E), ...op.get(VEC_END), ...op.i32GeU, ...op.brIf(1), ...inner, ...op.br(0), ...op.end, ...op.end];
}

/** Run `inner` if the count in `local` is odd. */
function ifOdd(local: number, inner: Bytes): number[] {
  return [...op.get(local), ...op.i32(1), ...op.i32And, ...op.if, ...inner, ...op.end];
}

/** Loop `inner` `local` times (at least once), counting `local` down. */
function repeat(local: number, inner: Bytes): number[] {
  return [...op.loop, ...inner, ...op.get(local), ...op.i32(1), ...op.i32Sub, ...op.tee(local), ...op.brIf(0), ...op.end];
}

/** [N, C]: lanes are channel pairs, C walks each row's channels. */
function featuresCode(sweep: Sweep): number[] {
  const vector = { vector: true, runs: false }, scalar = { vector: false, runs: false };
  const cStep = (width: number) => [...op.get(C), ...op.i32(width), ...op.i32Add, ...op.set(C)];
  return [
    ...op.get(CHANNELS), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...op.set(VEC_END),
    ...repeat(N, [
      ...op.i32(0), ...op.set(C),
      // E runs through the row, C through its channels: VEC_END is relative to the row start.
      ...op.get(E), ...op.get(VEC_END), ...op.i32Add, ...op.set(VEC_END),
      ...vectorLoop([...body(sweep, vector), ...cStep(16)]),
      // The loop left C at the row's vector part's width: VEC_END's relative value again.
      ...op.get(C), ...op.set(VEC_END),
      ...ifOdd(CHANNELS, body(sweep, scalar)),
    ]),
  ];
}

/** [N, C, L]: lanes walk one channel's run of `spatial` values. */
function runsCode(sweep: Sweep): number[] {
  const vector = { vector: true, runs: true }, scalar = { vector: false, runs: true };
  const expressions = 'store' in sweep ? [sweep.store] : sweep.accumulate;
  const used = [...new Set(expressions.flatMap(parametersOf))];
  const loadParameters = used.flatMap((j) => [
    ...op.get(PARAMETER[j]), ...op.get(C), ...op.i32Add, ...op.f64Load, ...op.tee(PARAM_S[j]), ...op.f64x2Splat, ...op.set(PARAM_V[j]),
  ]);
  const sums = 'store' in sweep ? [] : sweep.accumulate.map((_, t) => t);
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
      ...vectorLoop(body(sweep, vector)),
      ...laneSums,
      ...ifOdd(SPATIAL, body(sweep, scalar)),
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
      ...op.get(SPATIAL), ...op.i32(1), ...op.i32Ne, ...op.if, ...runsCode(sweep), ...op.else, ...featuresCode(sweep), ...op.end,
    ],
  };
}

/** The kernels' module: one export per sweep, each (in0, in1, out0, out1, p0..p3, rows, channels, spatial) → (). */
export function sweepModuleBytes(): Uint8Array {
  return encodeModule(SWEEPS.map(sweepFunction));
}
