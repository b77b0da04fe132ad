import { allocateUninitialized, uninitializedValues, zeroedValues } from '../tensor/allocation.js';
import { broadcastStrides, sizeOf, stridesOf, type Shape } from '../tensor/shape.js';

/*
 * Elementwise and reduction kernels. Each op's scalar expression (`x * y`) is compiled once into
 * its own loops with `new Function`, so V8 sees a monomorphic loop with the expression inlined
 * instead of a closure call per element. Every kernel here writes each element of its result, so
 * results come from `uninitializedValues` (a reused buffer when one is free). The fast paths (same shape, scalar, row broadcast,
 * column broadcast) sit beside the general strided path they specialise; tests cover each.
 */

export type UnaryKernel = (x: Float64Array) => Float64Array;
/** `op` names the caller in the error when the broadcast result would be too large to allocate. */
export type BinaryKernel = (a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, outShape: Shape, op: string) => Float64Array;

/** `index + k`, written plainly for k = 0. */
const plus = (index: string, k: number) => (k === 0 ? index : `${index} + ${k}`);

/**
 * A loop whose turn does four steps, then one that does the rest one at a time. V8 does not
 * unroll loops, and at one element per turn its counting and bounds checks are a third of the
 * work: four per turn ran the row broadcast 35–40% faster. Each element is computed as before.
 * `head(stride)` is the loop header, `step(k)` the step at offset k.
 */
export function fourAtATime(head: (stride: number) => string, step: (k: number) => string): string {
  return `${head(4)} { ${[0, 1, 2, 3].map(step).join(' ')} }
    ${head(1)} { ${step(0)} }`;
}

/** What a row walk does at row position j: `load` once (declaring locals), `step(i)` for each row's element i, `store` once. */
export interface RowSteps {
  readonly load?: string;
  readonly step: (i: string) => string;
  readonly store?: string;
}

/**
 * The walk over n values (`n` in scope) along which a row of `m` values repeats: eight rows per
 * turn, then four, then one at a time. At each row position j the row's value (or a running sum)
 * is loaded once into a local and serves all the turn's rows, and each row's element is still
 * visited in row order, so a sum adds the same values in the same order as a walk row by row.
 * Against a walk along one row four positions per turn (a load and a store of the sum per
 * element), four rows per turn ran a row gradient 2–2.7× and a sum over the leading axis 2–3×
 * faster at 64×64 and 1024×256; eight, explicit BN fwd+bwd another 5–7% faster there (the same
 * at 256×1024). The four-row turn keeps a batch of 4 to 7 from falling back to single rows.
 */
const rowWalk = (m: string, { load = '', step, store = '' }: RowSteps) => {
  const turn = (rows: number, loop: string, then = '') => `${loop} {
        for (let j = 0, i = start; j < ${m}; j++, i++) {
          ${load} ${Array.from({ length: rows }, (_, r) => `{ ${step(r === 0 ? 'i' : `i + rowOffset${r}`)} }`).join(' ')} ${store}
        }
        ${then}
      }`;
  const offsets = Array.from({ length: 7 }, (_, r) => `rowOffset${r + 1} = ${r + 1} * ${m}`).join(', ');
  return `if (${m} > 0) {
      const ${offsets};
      let start = 0;
      ${turn(8, `for (; start + 8 * ${m} <= n; start += 8 * ${m})`)}
      ${turn(4, `if (start + 4 * ${m} <= n)`, `start += 4 * ${m};`)}
      ${turn(1, `for (; start < n; start += ${m})`)}
    }`;
};

/**
 * The walk over n values (`n` and `run` in scope) in which each of `m` sums (in `sums`) covers a
 * run of `run` values, the m runs cycling along the leading axes (a 'block': see
 * broadcastPattern): four sums' runs side by side, four independent chains of adds where one
 * chain waits on each add, then one at a time. Each sum still adds its values in input order.
 * `fold(k)` folds the value at k into `acc`.
 */
const blockWalk = (m: string, sums: string, fold: (k: string) => string) => `for (let i = 0; i < n; i += ${m} * run) {
        let o = 0;
        for (; o + 4 <= ${m}; o += 4) {
          let acc0 = ${sums}[o], acc1 = ${sums}[o + 1], acc2 = ${sums}[o + 2], acc3 = ${sums}[o + 3];
          for (let k = i + o * run, end = k + run; k < end; k++) {
            ${[0, 1, 2, 3].map((r) => `{ let acc = acc${r}; ${fold(`k + ${r} * run`)} acc${r} = acc; }`).join(' ')}
          }
          ${sums}[o] = acc0; ${sums}[o + 1] = acc1; ${sums}[o + 2] = acc2; ${sums}[o + 3] = acc3;
        }
        for (; o < ${m}; o++) {
          let acc = ${sums}[o];
          for (let k = i + o * run, end = k + run; k < end; k++) { ${fold('k')} }
          ${sums}[o] = acc;
        }
      }`;

export function compileUnary(expression: string): UnaryKernel {
  const step = (k: number) => `{ const x = input[${plus('i', k)}]; out[${plus('i', k)}] = ${expression}; }`;
  return new Function('uninitializedValues', `return function unaryKernel(input) {
    const out = uninitializedValues(input.length), n = input.length;
    let i = 0;
    ${fourAtATime((stride) => `for (; ${plus('i', stride - 1)} < n; i += ${stride})`, step)}
    return out;
  };`)(uninitializedValues) as UnaryKernel;
}

/**
 * How `shape` repeats inside `outShape`, when it does so in one of the cheap patterns: `block`
 * when its non-1 axes are a block in the middle of out's (BN's [C, 1, 1] against [N, C, H, W]),
 * so that each value repeats in a run of `blockRun` values and the whole cycles along the leading axes.
 */
export type BroadcastPattern = 'full' | 'scalar' | 'row' | 'column' | 'block' | 'general';

export function broadcastPattern(shape: Shape, outShape: Shape): BroadcastPattern {
  const size = sizeOf(shape);
  if (size === sizeOf(outShape)) return 'full';
  if (size === 1) return 'scalar';
  const offset = outShape.length - shape.length;
  let first = 0;
  while (first < shape.length && shape[first] === 1) first++;
  let last = shape.length;
  while (last > first && shape[last - 1] === 1) last--;
  // Every axis between first and last must be a real (unbroadcast) axis.
  for (let axis = first; axis < last; axis++) if (shape[axis] !== outShape[axis + offset]) return 'general';
  // `row`: the non-1 axes are the trailing axes of out, so the values repeat with period `size`.
  if (last === shape.length) return 'row';
  // `column`: the non-1 axes are the leading axes of out, so each value repeats `out/size` times in a run.
  if (first + offset === 0) return 'column';
  return 'block';
}

/** For a `block` pattern: how many values in a row each of `shape`'s values covers (the product of out's axes after its block). */
export function blockRun(shape: Shape, outShape: Shape): number {
  let last = shape.length;
  while (last > 0 && shape[last - 1] === 1) last--;
  return sizeOf(outShape.slice(last + outShape.length - shape.length));
}

/** The variable names the expression uses: `x` from a, `y` from b. */
export function compileBinary(expression: string): BinaryKernel {
  const body = (readA: string, readB: string, at = 'i') => `{ const x = ${readA}; const y = ${readB}; out[${at}] = ${expression}; }`;
  /** out[i] from a[i] and b[i] (either may be the repeated `v`) over i < end, four at a time. */
  const run = (end: string, readA: (k: number) => string, readB: (k: number) => string) =>
    fourAtATime((stride) => `for (; ${plus('i', stride - 1)} < ${end}; i += ${stride})`, (k) => body(readA(k), readB(k), plus('i', k)));
  const at = (array: string) => (k: number) => `${array}[${plus('i', k)}]`;
  // Each fast path is written once for a small `b` and once, mirrored, for a small `a`.
  const fastPath = (full: string, small: string, pattern: string) => {
    const read = <At>(fromFull: (at: At) => string, fromSmall: (at: At) => string): [(at: At) => string, (at: At) => string] =>
      (full === 'a' ? [fromFull, fromSmall] : [fromSmall, fromFull]);
    // `v` is the small operand's value: one for scalar, the run's for column, the row position's for row.
    const repeated = read(at(full), () => 'v');
    const [rowA, rowB] = read((i: string) => `${full}[${i}]`, () => 'v');
    const loops: Record<string, string> = {
      scalar: `const v = ${small}[0];
        let i = 0;
        ${run('n', ...repeated)}`,
      // The small operand's values repeat with its own period.
      row: `const m = ${small}.length;
        ${rowWalk('m', { load: `const v = ${small}[j];`, step: (i) => body(rowA(i), rowB(i), i) })}`,
      // Each of the small operand's values repeats in a run.
      column: `const length = n / ${small}.length;
        for (let j = 0, start = 0; j < ${small}.length; j++, start += length) {
          const v = ${small}[j], end = start + length;
          let i = start;
          ${run('end', ...repeated)}
        }`,
      // Runs as for a column, the whole cycle of them repeated along the leading axes.
      block: `const length = blockRun(${small}Shape, outShape);
        for (let start = 0; start < n;) {
          for (let j = 0; j < ${small}.length; j++, start += length) {
            const v = ${small}[j], end = start + length;
            let i = start;
            ${run('end', ...repeated)}
          }
        }`,
    };
    const [pa, pb] = full === 'a' ? ['full', pattern] : [pattern, 'full'];
    return `if (pa === '${pa}' && pb === '${pb}') { ${loops[pattern]} return out; }`;
  };
  const fastPaths = ['scalar', 'row', 'column', 'block'].flatMap((pattern) => [fastPath('a', 'b', pattern), fastPath('b', 'a', pattern)]).join('\n    ');
  const factory = new Function('pattern', 'blockRun', 'broadcastStrides', 'sizeOf', 'allocateUninitialized', `return function binaryKernel(a, aShape, b, bShape, outShape, op) {
    const out = allocateUninitialized(op, outShape);
    const n = out.length;
    const pa = pattern(aShape, outShape), pb = pattern(bShape, outShape);
    if (pa === 'full' && pb === 'full') {
      let i = 0;
      ${run('n', at('a'), at('b'))}
      return out;
    }
    ${fastPaths}
    // General path: walk the output with an odometer, reading a and b through broadcast strides.
    const nd = outShape.length;
    if (nd === 0) { ${body('a[0]', 'b[0]', '0')} return out; }
    const as = broadcastStrides(aShape, outShape), bs = broadcastStrides(bShape, outShape);
    const inner = outShape[nd - 1], aInner = as[nd - 1], bInner = bs[nd - 1];
    const index = new Array(nd).fill(0);
    let aBase = 0, bBase = 0;
    for (let start = 0; start < n; start += inner) {
      for (let k = 0, ia = aBase, ib = bBase; k < inner; k++, ia += aInner, ib += bInner) {
        ${body('a[ia]', 'b[ib]', 'start + k')}
      }
      for (let axis = nd - 2; axis >= 0; axis--) {
        index[axis]++; aBase += as[axis]; bBase += bs[axis];
        if (index[axis] < outShape[axis]) break;
        aBase -= as[axis] * outShape[axis]; bBase -= bs[axis] * outShape[axis]; index[axis] = 0;
      }
    }
    return out;
  };`);
  return factory(broadcastPattern, blockRun, broadcastStrides, sizeOf, allocateUninitialized) as BinaryKernel;
}

/**
 * The two gradients of mul or div whose second operand `row` repeats along the rows of a
 * full-size `g`, in one pass over g: `full` = g ∘ row elementwise (the expression, x from g and
 * y from row) and `sums` = Σ over the rows of g · q. Two passes, a binary kernel and a sum of
 * products, would read g twice; these are the same products, summed in the same order.
 */
export type RowGradientKernel = (g: Float64Array, row: Float64Array, q: Float64Array) => { full: Float64Array; sums: Float64Array };

export function compileRowGradients(expression: string): RowGradientKernel {
  return new Function('uninitializedValues', 'zeroedValues', `return function rowGradientKernel(g, row, q) {
    const n = g.length, m = row.length;
    const full = uninitializedValues(n);
    const sums = zeroedValues(m);
    ${rowWalk('m', {
      load: 'const y = row[j]; let sum = sums[j];',
      step: (i) => `const x = g[${i}]; full[${i}] = ${expression}; sum += x * q[${i}];`,
      store: 'sums[j] = sum;',
    })}
    return { full, sums };
  };`)(uninitializedValues, zeroedValues) as RowGradientKernel;
}

/**
 * A row walk over full-size arrays (see rowWalk), compiled once: `n` and `m` are the full and
 * the row length, written in the parameters' names.
 */
function compileRowPass<Args extends Float64Array[]>(parameters: readonly string[], n: string, m: string, steps: RowSteps): (...args: Args) => void {
  return new Function(...parameters, `const n = ${n}, m = ${m};
    ${rowWalk('m', steps)}`) as (...args: Args) => void;
}

/**
 * target += row, and target += x · row, with `row` repeated along target's rows: a gradient
 * added into the gradient so far in one pass (see gradientToAddInto), the same sums as a spread
 * or product written out first and then added.
 */
export const addRowsInto = compileRowPass<[target: Float64Array, row: Float64Array]>(['target', 'row'], 'target.length', 'row.length',
  { load: 'const v = row[j];', step: (i) => `target[${i}] += v;` });
export const addRowProductsInto = compileRowPass<[target: Float64Array, x: Float64Array, row: Float64Array]>(['target', 'x', 'row'], 'target.length', 'row.length',
  { load: 'const v = row[j];', step: (i) => `target[${i}] += x[${i}] * v;` });

/** sums += Σ over the rows of p · q, elementwise (sums is the row, p and q full-size): sumOfProducts' rows. */
export const addRowSumsOfProducts = compileRowPass<[sums: Float64Array, p: Float64Array, q: Float64Array]>(['sums', 'p', 'q'], 'p.length', 'sums.length',
  { load: 'let sum = sums[j];', step: (i) => `sum += p[${i}] * q[${i}];`, store: 'sums[j] = sum;' });

/**
 * sums += Σ p · q over each sum's runs of `run` values (sums a `block` of p's shape: see
 * broadcastPattern), in input order, as compileReduce's block path (blockWalk).
 */
export const addBlockSumsOfProducts = new Function('sums', 'p', 'q', 'run', `const n = p.length, m = sums.length;
  ${blockWalk('m', 'sums', (k) => `acc = acc + p[${k}] * q[${k}];`)}`) as (sums: Float64Array, p: Float64Array, q: Float64Array, run: number) => void;

/** Copies `input` broadcast to `outShape`: block copies for rows, fills for columns and scalars. `op` names the caller if the result is too large. */
export function broadcastCopy(input: Float64Array, shape: Shape, outShape: Shape, op: string): Float64Array {
  const pattern = broadcastPattern(shape, outShape);
  if (pattern === 'general') return copyGeneral(input, shape, NO_DATA, [], outShape, op);
  const out = allocateUninitialized(op, outShape);
  const n = out.length;
  switch (pattern) {
    case 'full':
      out.set(input);
      break;
    case 'scalar':
      out.fill(input[0]);
      break;
    case 'row':
      for (let start = 0; start < n; start += input.length) out.set(input, start);
      break;
    case 'column': {
      const run = n / input.length;
      for (let j = 0; j < input.length; j++) out.fill(input[j], j * run, (j + 1) * run);
      break;
    }
    case 'block': {
      const run = blockRun(shape, outShape);
      for (let start = 0; start < n;) for (let j = 0; j < input.length; j++, start += run) out.fill(input[j], start, start + run);
      break;
    }
  }
  return out;
}
const copyGeneral = compileBinary('x');
const NO_DATA = new Float64Array(1);

/**
 * Reductions over a set of axes. `combine` folds `x` into `acc`. The fast paths cover reducing
 * everything, the leading axes (BN's mean over the batch), and every axis but one block of kept
 * ones (the trailing axes, BN over [N, C, H, W]); the general path walks the input with an
 * odometer and output strides that are 0 on reduced axes. Each output folds its values in input
 * order on every path.
 */
export type ReduceKernel = (input: Float64Array, shape: Shape, axes: readonly number[]) => Float64Array;

export function compileReduce(initial: string, combine: string): ReduceKernel {
  const fold = `acc = ${combine};`;
  return new Function('uninitializedValues', `return function reduceKernel(input, shape, axes) {
    const nd = shape.length, n = input.length;
    let outSize = 1;
    for (let axis = 0; axis < nd; axis++) if (!axes.includes(axis)) outSize *= shape[axis];
    const out = uninitializedValues(outSize).fill(${initial});
    if (outSize === 0) return out;
    if (n === 0) return out;
    const leading = axes.every((axis, i) => axis === i);
    if (leading) {
      // Each output's sum in input order, as before; eight rows per turn (see rowWalk).
      ${rowWalk('outSize', { load: 'let acc = out[j];', step: (i) => `const x = input[${i}]; ${fold}`, store: 'out[j] = acc;' })}
      return out;
    }
    // The kept axes one block, leading (LayerNorm's mean over the trailing axes) or in the middle
    // (BN over [N, C, H, W] keeps C): each output's run of values, one run per step along the
    // leading axes (blockWalk), so each output adds its values in input order.
    let firstKept = 0;
    while (axes.includes(firstKept)) firstKept++;
    let lastKept = nd;
    while (axes.includes(lastKept - 1)) lastKept--;
    if (axes.length === nd - (lastKept - firstKept)) {
      let run = 1;
      for (let axis = lastKept; axis < nd; axis++) run *= shape[axis];
      ${blockWalk('outSize', 'out', (k) => `const x = input[${k}]; ${fold}`)}
      return out;
    }
    const outStrides = new Array(nd).fill(0);
    for (let axis = nd - 1, stride = 1; axis >= 0; axis--) {
      if (!axes.includes(axis)) { outStrides[axis] = stride; stride *= shape[axis]; }
    }
    const index = new Array(nd).fill(0);
    let o = 0;
    for (let i = 0; i < n; i++) {
      let acc = out[o]; const x = input[i]; ${fold} out[o] = acc;
      for (let axis = nd - 1; axis >= 0; axis--) {
        index[axis]++; o += outStrides[axis];
        if (index[axis] < shape[axis]) break;
        o -= outStrides[axis] * shape[axis]; index[axis] = 0;
      }
    }
    return out;
  };`)(uninitializedValues) as ReduceKernel;
}

/**
 * The offset, under `strides`, of every element of `shape` in row-major order: an odometer walk.
 * Strides of 0 repeat (broadcast); permuted strides transpose.
 */
export function stridedOffsets(shape: Shape, strides: readonly number[]): Float64Array {
  const nd = shape.length;
  const offsets = new Float64Array(sizeOf(shape));
  const index = new Array<number>(nd).fill(0);
  let offset = 0;
  for (let i = 0; i < offsets.length; i++) {
    offsets[i] = offset;
    for (let axis = nd - 1; axis >= 0; axis--) {
      index[axis]++;
      offset += strides[axis];
      if (index[axis] < shape[axis]) break;
      offset -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
  return offsets;
}

/** Moves axes: `out` axis i is input axis `perm[i]`. */
export function permute(input: Float64Array, shape: Shape, perm: readonly number[]): Float64Array {
  const inStrides = stridesOf(shape);
  const source = stridedOffsets(perm.map((axis) => shape[axis]), perm.map((axis) => inStrides[axis]));
  const out = uninitializedValues(input.length);
  for (let i = 0; i < out.length; i++) out[i] = input[source[i]];
  return out;
}
