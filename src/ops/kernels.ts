import { broadcastStrides, sizeOf, stridesOf, type Shape } from '../tensor/shape.js';

/*
 * Elementwise and reduction kernels. Each op's scalar expression (`x * y`) is compiled once into
 * its own loops with `new Function`, so V8 sees a monomorphic loop with the expression inlined
 * instead of a closure call per element. The fast paths (same shape, scalar, row broadcast,
 * column broadcast) sit beside the general strided path they specialise; tests cover each.
 */

export type UnaryKernel = (x: Float64Array) => Float64Array;
export type BinaryKernel = (a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, outShape: Shape) => Float64Array;

export function compileUnary(expression: string): UnaryKernel {
  return new Function('input', `
    const out = new Float64Array(input.length);
    for (let i = 0; i < input.length; i++) { const x = input[i]; out[i] = ${expression}; }
    return out;
  `) as UnaryKernel;
}

/** How `shape` repeats inside `outShape`, when it does so in one of the cheap patterns. */
export type BroadcastPattern = 'full' | 'scalar' | 'row' | 'column' | 'general';

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
  return 'general';
}

/** The variable names the expression uses: `x` from a, `y` from b. */
export function compileBinary(expression: string): BinaryKernel {
  const body = (readA: string, readB: string) => `const x = ${readA}; const y = ${readB}; out[i] = ${expression};`;
  const factory = new Function('pattern', 'broadcastStrides', 'sizeOf', `return function binaryKernel(a, aShape, b, bShape, outShape) {
    const n = sizeOf(outShape);
    const out = new Float64Array(n);
    const pa = pattern(aShape, outShape), pb = pattern(bShape, outShape);
    if (pa === 'full' && pb === 'full') {
      for (let i = 0; i < n; i++) { ${body('a[i]', 'b[i]')} }
      return out;
    }
    if (pa === 'full' && pb === 'scalar') {
      const yb = b[0];
      for (let i = 0; i < n; i++) { ${body('a[i]', 'yb')} }
      return out;
    }
    if (pa === 'scalar' && pb === 'full') {
      const xa = a[0];
      for (let i = 0; i < n; i++) { ${body('xa', 'b[i]')} }
      return out;
    }
    if (pa === 'full' && pb === 'row') {
      const m = b.length;
      for (let start = 0; start < n; start += m) {
        for (let j = 0, i = start; j < m; j++, i++) { ${body('a[i]', 'b[j]')} }
      }
      return out;
    }
    if (pa === 'row' && pb === 'full') {
      const m = a.length;
      for (let start = 0; start < n; start += m) {
        for (let j = 0, i = start; j < m; j++, i++) { ${body('a[j]', 'b[i]')} }
      }
      return out;
    }
    if (pa === 'full' && pb === 'column') {
      const run = n / b.length;
      for (let j = 0, start = 0; j < b.length; j++, start += run) {
        const yb = b[j];
        for (let i = start; i < start + run; i++) { ${body('a[i]', 'yb')} }
      }
      return out;
    }
    if (pa === 'column' && pb === 'full') {
      const run = n / a.length;
      for (let j = 0, start = 0; j < a.length; j++, start += run) {
        const xa = a[j];
        for (let i = start; i < start + run; i++) { ${body('xa', 'b[i]')} }
      }
      return out;
    }
    // General path: walk the output with an odometer, reading a and b through broadcast strides.
    const nd = outShape.length;
    if (nd === 0) { const i = 0; ${body('a[0]', 'b[0]')} return out; }
    const as = broadcastStrides(aShape, outShape), bs = broadcastStrides(bShape, outShape);
    const inner = outShape[nd - 1], aInner = as[nd - 1], bInner = bs[nd - 1];
    const index = new Array(nd).fill(0);
    let aBase = 0, bBase = 0;
    for (let start = 0; start < n; start += inner) {
      for (let k = 0, ia = aBase, ib = bBase; k < inner; k++, ia += aInner, ib += bInner) {
        const i = start + k; ${body('a[ia]', 'b[ib]')}
      }
      for (let axis = nd - 2; axis >= 0; axis--) {
        index[axis]++; aBase += as[axis]; bBase += bs[axis];
        if (index[axis] < outShape[axis]) break;
        aBase -= as[axis] * outShape[axis]; bBase -= bs[axis] * outShape[axis]; index[axis] = 0;
      }
    }
    return out;
  };`);
  return factory(broadcastPattern, broadcastStrides, sizeOf) as BinaryKernel;
}

/** Copies `input` broadcast to `outShape`: block copies for rows, fills for columns and scalars. */
export function broadcastCopy(input: Float64Array, shape: Shape, outShape: Shape): Float64Array {
  const n = sizeOf(outShape);
  switch (broadcastPattern(shape, outShape)) {
    case 'full':
      return Float64Array.from(input);
    case 'scalar':
      return new Float64Array(n).fill(input[0]);
    case 'row': {
      const out = new Float64Array(n);
      for (let start = 0; start < n; start += input.length) out.set(input, start);
      return out;
    }
    case 'column': {
      const out = new Float64Array(n);
      const run = n / input.length;
      for (let j = 0; j < input.length; j++) out.fill(input[j], j * run, (j + 1) * run);
      return out;
    }
    case 'general':
      return copyGeneral(input, shape, NO_DATA, [], outShape);
  }
}
const copyGeneral = compileBinary('x');
const NO_DATA = new Float64Array(1);

/**
 * Reductions over a set of axes. `combine` folds `x` into `acc`. The fast paths cover reducing
 * everything, the leading axes (BN's mean over the batch) and the trailing axes; the general
 * path walks the input with an odometer and output strides that are 0 on reduced axes.
 */
export type ReduceKernel = (input: Float64Array, shape: Shape, axes: readonly number[]) => Float64Array;

export function compileReduce(initial: string, combine: string): ReduceKernel {
  const fold = `acc = ${combine};`;
  return new Function('input', 'shape', 'axes', `
    const nd = shape.length, n = input.length;
    let outSize = 1;
    for (let axis = 0; axis < nd; axis++) if (!axes.includes(axis)) outSize *= shape[axis];
    const out = new Float64Array(outSize).fill(${initial});
    if (outSize === 0) return out;
    if (n === 0) return out;
    const leading = axes.every((axis, i) => axis === i);
    const trailing = axes.every((axis, i) => axis === nd - axes.length + i);
    if (leading) {
      for (let start = 0; start < n; start += outSize) {
        for (let j = 0, i = start; j < outSize; j++, i++) { let acc = out[j]; const x = input[i]; ${fold} out[j] = acc; }
      }
      return out;
    }
    if (trailing) {
      const block = n / outSize;
      for (let o = 0, i = 0; o < outSize; o++) {
        let acc = out[o];
        for (const end = i + block; i < end; i++) { const x = input[i]; ${fold} }
        out[o] = acc;
      }
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
  `) as ReduceKernel;
}

/** Moves axes: `out` axis i is input axis `perm[i]`. */
export function permute(input: Float64Array, shape: Shape, perm: readonly number[]): Float64Array {
  const nd = shape.length;
  const out = new Float64Array(input.length);
  if (input.length === 0) return out;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((axis) => shape[axis]);
  const strides = perm.map((axis) => inStrides[axis]);
  const index = new Array<number>(nd).fill(0);
  let source = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = input[source];
    for (let axis = nd - 1; axis >= 0; axis--) {
      index[axis]++;
      source += strides[axis];
      if (index[axis] < outShape[axis]) break;
      source -= strides[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/**
 * Batched matrix product over already-broadcast batch offsets. The i-k-j loop order reads
 * both operands row by row, which keeps the inner loop on contiguous memory.
 */
export function matmulKernel(
  a: Float64Array, aOffsets: readonly number[], b: Float64Array, bOffsets: readonly number[],
  m: number, k: number, n: number,
): Float64Array {
  const out = new Float64Array(aOffsets.length * m * n);
  for (let batch = 0; batch < aOffsets.length; batch++) {
    const aBase = aOffsets[batch], bBase = bOffsets[batch], outBase = batch * m * n;
    for (let i = 0; i < m; i++) {
      const row = outBase + i * n;
      for (let p = 0; p < k; p++) {
        const scale = a[aBase + i * k + p];
        const bRow = bBase + p * n;
        for (let j = 0; j < n; j++) out[row + j] += scale * b[bRow + j];
      }
    }
  }
  return out;
}
