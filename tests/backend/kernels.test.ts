import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchNormFused, conv2d, getKernels, grad, matmul, randn, setKernels, tidy } from 'gradgraph';
import { releaseValues } from '../../src/tensor/allocation.js';
import { jsKernels } from '../../src/backend/js.js';
import { momentsFromPowerSums, type Kernels } from '../../src/backend/kernels.js';
import { BLOCK_VALUES, RESIDENT_VALUES, productOnWasm, wasmArena, wasmKernels, wasmSimdSupported } from '../../src/backend/wasm/kernels.js';
import { withKernels } from '../helpers.js';

/*
 * The WebAssembly kernels against the JavaScript ones, which are the reference: to 1e-12 of the
 * largest value everywhere, and bit for bit on [N, C] (spatial = 1), where the SIMD lanes are
 * channels and every sum adds in the reference's order.
 */

interface Case {
  rows: number;
  channels: number;
  spatial: number;
  x: Float64Array;
  g: Float64Array;
  gamma: Float64Array;
  beta: Float64Array;
  eps: number;
}

function outputs(kernels: Kernels, { x, g, gamma, beta, channels, spatial, eps }: Case): Record<string, Float64Array> {
  const { mean, invStd } = kernels.channelMoments(x, channels, spatial, eps);
  const forward = kernels.batchNormForward(x, gamma, beta, spatial, eps);
  const d = kernels.batchNormBackward(g, x, gamma, forward.moments, spatial);
  // The sums over the leading axis read x as [rows, channels·spatial].
  const sums = kernels.channelSums(x, channels * spatial, false), squares = kernels.channelSums(x, channels * spatial, true);
  // So does the affine store, with parameters of that width made from γ and β.
  const across = (v: Float64Array) => Float64Array.from({ length: channels * spatial }, (_, i) => v[i % v.length]);
  const affine = kernels.channelAffine(x, across(beta), across(gamma), across(g.subarray(0, channels)));
  const productSums = kernels.channelProductSums(g, x, channels * spatial);
  // And the quotient, by divisors from x's first values, the first two made 0 and −0 (x / ±0 is ±∞, or NaN where x is 0).
  const divisor = across(x.subarray(0, channels));
  divisor.set([0, -0].slice(0, divisor.length));
  const quotient = kernels.channelQuotient(x, divisor);
  // Both also per channel of [rows, channels, spatial], each parameter over a channel's run.
  const affineRuns = kernels.channelAffine(x, beta, gamma, g.subarray(0, channels), spatial);
  const quotientRuns = kernels.channelQuotient(x, divisor.subarray(0, channels), spatial);
  // Added in place into a copy of g, in the kernels' memory when x is there (then written in place, not through a copy).
  // Rows across channels·spatial, then each channel's value over its run.
  const added = [[null, 1], [x, 1], [null, spatial], [x, spatial]].map(([factor, run]) => {
    const target = wasmArena().owns(x) ? wasmArena().take(g.length)! : new Float64Array(g.length);
    target.set(g);
    kernels.channelAddInto(target, run === 1 ? across(gamma) : gamma, factor as Float64Array | null, run as number);
    return target;
  });
  return {
    mean, invStd, forwardMean: forward.moments.mean, forwardInvStd: forward.moments.invStd, y: forward.output, dx: d.x, dGamma: d.gamma, dBeta: d.beta,
    sums, squares, affine, productSums, quotient, affineRuns, quotientRuns,
    addedRows: added[0], addedProducts: added[1], addedRowsRuns: added[2], addedProductsRuns: added[3],
  };
}

/**
 * Outputs that are bit for bit the reference's on every layout: the sums over the leading axis
 * add the rows in order on both, and the affine store, the quotient and the adds in place are elementwise.
 */
const ALWAYS_BIT_FOR_BIT = new Set(['sums', 'squares', 'affine', 'productSums', 'quotient', 'affineRuns', 'quotientRuns', 'addedRows', 'addedProducts', 'addedRowsRuns', 'addedProductsRuns']);

/** The first index where a and b differ in any bit (NaN only equals NaN), or -1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  for (let i = 0; i < b.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** max |a − b| over the largest |b| (or 1, when all of b is smaller). */
function difference(a: Float64Array, b: Float64Array): number {
  let worst = 0, scale = 1;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst / scale;
}

function expectAgreement(c: Case): void {
  const reference = outputs(jsKernels, c), fast = outputs(wasmKernels, c);
  for (const [name, expected] of Object.entries(reference)) {
    const actual = fast[name];
    expect(actual.length, name).toBe(expected.length);
    if (c.spatial === 1 || ALWAYS_BIT_FOR_BIT.has(name)) expect(firstDifference(actual, expected), name).toBe(-1);
    else expect(difference(actual, expected), name).toBeLessThan(1e-12);
  }
  // Large results live in the kernels' memory; given back now, they leave room for the next case
  // (the collector would give them back only between tests).
  for (const values of [...Object.values(reference), ...Object.values(fast)]) releaseValues(values);
}

const values = (length: number, value: fc.Arbitrary<number>) => fc.array(value, { minLength: length, maxLength: length }).map((v) => Float64Array.from(v));

/** A problem of random shape; at eps = 0 the values are integers (a channel is then constant exactly, or has spread). */
const problems = fc
  .record({ rows: fc.integer({ min: 2, max: 9 }), channels: fc.integer({ min: 1, max: 7 }), spatial: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })), eps: fc.constantFrom(0, 1e-5, 1e-3) })
  .chain(({ rows, channels, spatial, eps }) => {
    const size = rows * channels * spatial;
    const value = eps === 0 ? fc.integer({ min: -3, max: 3 }) : fc.double({ min: -10, max: 10, noNaN: true });
    // Channels away from the origin as well as near it: their moments come from the second pass
    // (momentsFromPowerSums). Only on [N, C], compared bit for bit: on [N, C, L] the WebAssembly
    // lanes add a run in another order, μ's last bit is then off by up to ulp(offset), and over
    // a small spread that is more than the 1e-12 allowed there (the next tests take those).
    const offsets = values(channels, spatial === 1 ? fc.constantFrom(0, 0, 7, -1e3) : fc.constant(0));
    return fc.record({
      rows: fc.constant(rows), channels: fc.constant(channels), spatial: fc.constant(spatial), eps: fc.constant(eps),
      x: fc.tuple(values(size, value), offsets).map(([x, offset]) => x.map((v, i) => v + offset[Math.floor(i / spatial) % channels])),
      g: values(size, fc.double({ min: -10, max: 10, noNaN: true })),
      gamma: values(channels, fc.double({ min: -3, max: 3, noNaN: true })), beta: values(channels, fc.double({ min: -3, max: 3, noNaN: true })),
    });
  });

function seeded(rows: number, channels: number, spatial: number, eps: number, seed = 1): Case {
  const size = rows * channels * spatial;
  return {
    rows, channels, spatial, eps,
    // Copies in ordinary arrays (a large randn lives in the kernels' memory, and goes back to it when the tidy() ends): the kernels copy these.
    x: tidy(() => randn([size], { seed }).storage.slice()), g: tidy(() => randn([size], { seed: seed + 1 }).storage.slice()),
    gamma: randn([channels], { seed: seed + 2 }).storage, beta: randn([channels], { seed: seed + 3 }).storage,
  };
}

/**
 * Agreement with x and g where the kernels keep large tensors' values (arena.ts), read in place
 * instead of copied; given back after, so that the memory does not fill with them.
 */
function expectAgreementInArena(c: Case): void {
  const arena = wasmArena();
  const placed = [c.x, c.g].map((values) => {
    const view = arena.take(values.length);
    if (view === undefined) throw new Error(`no room in the kernels' memory for ${values.length} values`);
    view.set(values);
    return view;
  });
  try {
    expectAgreement({ ...c, x: placed[0], g: placed[1] });
  } finally {
    for (const view of placed) arena.release(view);
  }
}

/** Takes every free byte of the arena but `spare` values' worth; returns the views, to release. */
function fillArena(spare: number): Float64Array[] {
  const arena = wasmArena();
  arena.empty(); // released views count as room too
  const taken: Float64Array[] = [];
  for (const length of [1 << 20, 1 << 14, 1 << 8, 8]) {
    for (let view = arena.take(length); view !== undefined; view = arena.freeBytes() / 8 > spare + length ? arena.take(length) : undefined) taken.push(view);
  }
  return taken;
}

describe('the WebAssembly SIMD kernels', () => {
  it('are available here (Node 20 has WebAssembly SIMD) and the default', () => {
    expect(wasmSimdSupported()).toBe(true);
    // Unless the run forces the JavaScript loops (GRADGRAPH_KERNELS=js), as the suite is also run.
    expect(getKernels()).toBe(process.env.GRADGRAPH_KERNELS === 'js' ? 'js' : 'wasm');
  });

  it('agree with the JavaScript kernels on [N, C] and [N, C, H·W], bit for bit on [N, C]', () => {
    fc.assert(fc.property(problems, (c) => {
      expectAgreement(c);
      expectAgreementInArena(c);
    }), { numRuns: 300 });
  });

  it('agree at the shapes the benchmark times, and through odd channel and run widths', () => {
    for (const [rows, channels, spatial] of [[64, 64, 1], [256, 1024, 1], [1024, 256, 1], [3, 5, 1], [4, 3, 7], [2, 1, 9], [5, 2, 2]]) {
      expectAgreement(seeded(rows, channels, spatial, 1e-5));
      expectAgreementInArena(seeded(rows, channels, spatial, 1e-5));
    }
  });

  it('agree on [N, C] whatever rows are left over from blocks of four and whether a channel is left over from the pairs', () => {
    // The sums take four rows at a time along the channel pairs, then the rows left and an odd channel one channel at a time.
    for (let rows = 1; rows <= 9; rows++) {
      for (const channels of [1, 2, 3, 8, 9]) expectAgreement(seeded(rows, channels, 1, 1e-5, rows * 10 + channels));
    }
  });

  it('agree on arrays too large to copy in whole, block by block, and on a row wider than a block', () => {
    const wideRow = Math.ceil(BLOCK_VALUES * 1.1);
    const rows = Math.ceil(RESIDENT_VALUES / wideRow) + 1;
    expectAgreement(seeded(rows, wideRow, 1, 1e-5, 5));
    expectAgreementInArena(seeded(rows, wideRow, 1, 1e-5, 5));
    // Runs of odd length, a block a few rows, the last block shorter.
    const channels = 3, spatial = 5001;
    expectAgreement(seeded(Math.ceil(RESIDENT_VALUES / (channels * spatial)) + 3, channels, spatial, 1e-5, 9));
    expectAgreementInArena(seeded(Math.ceil(RESIDENT_VALUES / (channels * spatial)) + 3, channels, spatial, 1e-5, 9));
  });

  it('write large results into their memory, where the next kernel reads them in place', () => {
    const arena = wasmArena();
    const c = seeded(64, 128, 1, 1e-5, 41);
    c.x = arena.take(c.x.length)!.fill(0).map((_, i) => Math.sin(i));
    const forward = wasmKernels.batchNormForward(c.x, c.gamma, c.beta, 1, 1e-5);
    const backward = wasmKernels.batchNormBackward(forward.output, c.x, c.gamma, forward.moments, 1);
    // Results come from there while those kernels are the ones in use (GRADGRAPH_KERNELS=js runs the suite on the loops).
    expect(arena.owns(forward.output)).toBe(getKernels() === 'wasm');
    expect(arena.owns(backward.x)).toBe(getKernels() === 'wasm');
    const reference = jsKernels.batchNormForward(c.x, c.gamma, c.beta, 1, 1e-5);
    expect(firstDifference(forward.output, reference.output)).toBe(-1);
    expect(firstDifference(backward.x, jsKernels.batchNormBackward(reference.output, c.x, c.gamma, reference.moments, 1).x)).toBe(-1);
  });

  it('run on the loops when their memory has no room left for a call\'s scratch', () => {
    // 300,000 channels need more scratch (twelve values per channel) than the block kept from call to call.
    const c = seeded(2, 300_000, 1, 1e-5, 51);
    const arena = wasmArena();
    const filler = fillArena(0);
    expect(arena.take(8 * 300_000)).toBeUndefined();
    try {
      expectAgreement(c);
    } finally {
      for (const view of filler) arena.release(view);
      arena.empty();
    }
  });

  it('agree when other kernel calls come between a forward and its backward (the backward then copies x again)', () => {
    const first = seeded(6, 5, 1, 1e-5, 11), second = seeded(6, 5, 1, 1e-5, 21), wider = seeded(4, 3, 5, 1e-5, 31);
    const run = (kernels: Kernels) => {
      const a = kernels.batchNormForward(first.x, first.gamma, first.beta, 1, 1e-5);
      const b = kernels.batchNormForward(second.x, second.gamma, second.beta, 1, 1e-5);
      const db = kernels.batchNormBackward(second.g, second.x, second.gamma, b.moments, 1);
      const da = kernels.batchNormBackward(first.g, first.x, first.gamma, a.moments, 1);
      const c = kernels.batchNormForward(wider.x, wider.gamma, wider.beta, 5, 1e-5);
      kernels.channelMoments(first.x, 5, 1, 1e-5);
      const dc = kernels.batchNormBackward(wider.g, wider.x, wider.gamma, c.moments, 5);
      return [a.output, b.output, db.x, db.gamma, da.x, da.gamma, da.beta, dc.x, dc.gamma];
    };
    const reference = run(jsKernels), fast = run(wasmKernels);
    fast.forEach((values, i) => expect(difference(values, reference[i]), String(i)).toBeLessThan(1e-12));
    fast.slice(0, 7).forEach((values, i) => expect(firstDifference(values, reference[i]), String(i)).toBe(-1));
  });

  it('give a constant channel at eps = 0 the JavaScript kernel\'s 1/σ = 0: y = β, finite gradients', () => {
    for (const spatial of [1, 3]) {
      const c = seeded(4, 2, spatial, 0);
      for (let i = 0; i < c.x.length; i++) if (Math.floor(i / spatial) % 2 === 0) c.x[i] = 2.5;
      expectAgreement(c);
      const { invStd } = wasmKernels.channelMoments(c.x, 2, spatial, 0);
      expect(invStd[0]).toBe(0);
      const { output, moments } = wasmKernels.batchNormForward(c.x, c.gamma, c.beta, spatial, 0);
      expect(output[0]).toBe(c.beta[0]);
      expect(wasmKernels.batchNormBackward(c.g, c.x, c.gamma, moments, spatial).x.every(Number.isFinite)).toBe(true);
    }
  });
});

/** μ and 1/σ per channel as the textbook's two passes take them: Σx/n, then Σ(x − μ)²/n, rows in order. */
function twoPassMoments(x: Float64Array, channels: number, spatial: number, eps: number): { mean: Float64Array; invStd: Float64Array } {
  const count = x.length / channels, channelOf = (i: number) => Math.floor(i / spatial) % channels;
  const mean = new Float64Array(channels), squares = new Float64Array(channels);
  x.forEach((v, i) => { mean[channelOf(i)] += v; });
  for (let c = 0; c < channels; c++) mean[c] /= count;
  x.forEach((v, i) => { const d = v - mean[channelOf(i)]; squares[channelOf(i)] += d * d; });
  const invStd = squares.map((s) => (s / count + eps === 0 ? 0 : 1 / Math.sqrt(s / count + eps)));
  return { mean, invStd };
}

describe('the moments, from Σx and Σx² in one pass where that is accurate', () => {
  const kernelSets = [jsKernels, wasmKernels];

  it('keep the one-pass variance where μ² < 3σ², within a few roundings of the two passes\'', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (rows, channels, seed) => {
      const x = tidy(() => randn([rows, channels], { seed }).storage.slice());
      const sums = new Float64Array(channels), squares = new Float64Array(channels);
      x.forEach((v, i) => { sums[i % channels] += v; squares[i % channels] += v * v; });
      momentsFromPowerSums(sums, squares, rows);
      const twoPass = twoPassMoments(x, channels, 1, 0);
      // μ²/σ² against the bound of 3 (σ² ≥ a quarter of the mean square σ² + μ²), away from it by more than rounding.
      twoPass.mean.forEach((mean, c) => {
        const ratio = (mean * twoPass.invStd[c]) ** 2;
        if (Math.abs(ratio - 3) > 1e-9) expect(Number.isNaN(squares[c]), `channel ${c}, μ²/σ² = ${ratio}`).toBe(ratio > 3);
      });
      for (const kernels of kernelSets) {
        const { mean, invStd } = kernels.channelMoments(x, channels, 1, 0);
        expect(firstDifference(mean, twoPass.mean), kernels.name).toBe(-1);
        invStd.forEach((v, c) => expect(Math.abs(v - twoPass.invStd[c]) / twoPass.invStd[c], `${kernels.name} channel ${c}`).toBeLessThan(1e-14));
      }
    }), { numRuns: 300 });
  });

  it('take the two passes\' bits for every channel whose mean square is mostly its mean\'s, or whose values are not finite, overflow or underflow', () => {
    const rows = 12, spatial = 3;
    // One channel per case, each a different way for Σx²/n − μ² to go wrong.
    const channels = [
      (v: number) => 1e6 + v, // μ² ≫ σ²: every digit of σ² cancels in one pass
      (v: number) => 3 + v, // μ² ≈ 9σ²: past the two bits allowed (μ² ≤ 3σ²)
      (v: number) => (v > 1 ? NaN : v),
      (v: number) => (v > 1 ? Infinity : v),
      (v: number) => (v > 1 ? -Infinity : v - 1e300),
      (v: number) => 1e200 * v, // x² overflows
      (v: number) => 3e-160 * v, // x² falls to subnormals, with a few bits left
      (v: number) => 5e-324 * Math.round(v * 4), // subnormal x
      () => 3, // constant: σ² = 0
    ];
    const noise = tidy(() => randn([rows * channels.length * spatial], { seed: 77 }).storage.slice());
    const x = noise.map((v, i) => channels[Math.floor(i / spatial) % channels.length](v));
    for (const eps of [0, 1e-5]) {
      const twoPass = twoPassMoments(x, channels.length, spatial, eps);
      for (const kernels of kernelSets) {
        const { mean, invStd } = kernels.channelMoments(x, channels.length, spatial, eps);
        const forward = kernels.batchNormForward(x, new Float64Array(channels.length).fill(1), new Float64Array(channels.length), spatial, eps).moments;
        // On [N, C, L] the WebAssembly lanes add a run's values in another order (μ to its last
        // bit or so, and σ² moves by only the square of that); on the JavaScript loops, bit for bit.
        if (kernels === jsKernels) {
          expect(firstDifference(mean, twoPass.mean), 'mean').toBe(-1);
          expect(firstDifference(invStd, twoPass.invStd), `1/σ at eps ${eps}`).toBe(-1);
        } else {
          invStd.forEach((v, c) => expect(Object.is(v, twoPass.invStd[c]) || Math.abs(v - twoPass.invStd[c]) <= 1e-12 * Math.abs(v), `wasm 1/σ of channel ${c} at eps ${eps}: ${v}, ${twoPass.invStd[c]}`).toBe(true));
        }
        expect(firstDifference(forward.invStd, invStd), `${kernels.name}: the forward's 1/σ is channelMoments'`).toBe(-1);
      }
      const onColumns = (kernels: Kernels) => kernels.channelMoments(x, channels.length * spatial, 1, eps);
      const columns = twoPassMoments(x, channels.length * spatial, 1, eps);
      // Column by column ([N, C·L]) both kernels add the rows in order: both have the two passes' bits.
      for (const kernels of kernelSets) expect(firstDifference(onColumns(kernels).invStd, columns.invStd), `${kernels.name} on [N, C·L]`).toBe(-1);
    }
  });

  it('mark a channel for the second pass where the one pass lost more than two bits, and only there', () => {
    // Two values, μ = 1.5 and mean square 3: σ² = 3 − 2.25 = 0.75, exactly a quarter of the mean square (μ² = 3σ²).
    const sums = Float64Array.of(3, 3), squares = Float64Array.of(6, 6 - 2e-6);
    // The second channel's mean square is a hair smaller, so σ² is a hair under a quarter of it.
    expect(momentsFromPowerSums(sums, squares, 2)).toBe(true);
    expect(sums).toEqual(Float64Array.of(1.5, 1.5));
    expect(squares[0]).toBe(0.75);
    expect(squares[1]).toBeNaN();
    const centred = Float64Array.of(3), centredSquares = Float64Array.of(6);
    expect(momentsFromPowerSums(centred, centredSquares, 2)).toBe(false);
  });
});

describe('the JavaScript kernels, the reference', () => {
  it('add a row or a block of runs in place as adding it spread out, or its product with x, would (channelAddInto)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (rows, channels, spatial, seed) => {
      const size = rows * channels * spatial;
      const target = tidy(() => randn([size], { seed }).storage.slice()), x = tidy(() => randn([size], { seed: seed + 1 }).storage.slice());
      const row = randn([channels], { seed: seed + 2 }).storage;
      // row's value at i: channel (i / spatial) mod channels.
      const spread = (i: number) => row[Math.floor(i / spatial) % channels];
      const plusRow = target.slice(), plusProducts = target.slice();
      jsKernels.channelAddInto(plusRow, row, null, spatial);
      jsKernels.channelAddInto(plusProducts, row, x, spatial);
      expect(plusRow).toEqual(target.map((v, i) => v + spread(i)));
      expect(plusProducts).toEqual(target.map((v, i) => v + x[i] * spread(i)));
    }), { numRuns: 200 });
  });
});

describe('matrix products on the WebAssembly kernels', () => {
  it('leave a forward\'s copy of x where its backward reads it, when a product or a dot product runs between them', () => {
    // x in an ordinary array: the forward leaves its copy in the scratch block (forwardCopy) for the backward.
    const c = seeded(64, 96, 1, 1e-5, 61);
    // Operands as large as the product copies (4,096 values each, into the kernels' memory), so
    // that a product writing over the scratch block would overwrite that copy of x.
    const a = tidy(() => randn([64, 64], { seed: 62 }).storage.slice()), b = tidy(() => randn([64, 64], { seed: 63 }).storage.slice());
    // B as stored (products.ts), or transposed: a dot product per element (dots.ts).
    for (const bTransposed of [false, true]) {
      const run = (kernels: Kernels) => {
        const forward = kernels.batchNormForward(c.x, c.gamma, c.beta, 1, 1e-5);
        const out = wasmArena().take(64 * 64)!.fill(0);
        kernels.matmulInto({ data: a, offset: 0, transposed: false }, { data: b, offset: 0, transposed: bTransposed }, 64, 64, 64, out, 0);
        const backward = kernels.batchNormBackward(c.g, c.x, c.gamma, forward.moments, 1);
        return [forward.output, out, backward.x, backward.gamma, backward.beta];
      };
      const reference = run(jsKernels), fast = run(wasmKernels);
      fast.forEach((values, i) => expect(firstDifference(values, reference[i]), `${i}, B${bTransposed ? 'ᵀ' : ''}`).toBe(-1));
      // The product did run on WebAssembly there.
      const out = wasmArena().take(64 * 64)!;
      expect(productOnWasm({ data: a, offset: 0, transposed: false }, { data: b, offset: 0, transposed: bTransposed }, 64, 64, 64, out, 0)).toBe(true);
      for (const values of [...reference, ...fast, out]) releaseValues(values);
    }
  });

  it('give conv2d and a matmul after fused batch norm the JavaScript kernels\' values and gradients, bit for bit', () => {
    const convStep = () => tidy(() => {
      const x = randn([16, 2, 14, 14], { seed: 71, requiresGrad: true }), weight = randn([8, 2, 3, 3], { seed: 72, requiresGrad: true });
      const y = conv2d(x, weight, null, { padding: 1 });
      return [y, ...grad(y, [x, weight], { gradOutputs: [randn(y.shape, { seed: 73 })] })].map((t) => t.storage.slice());
    });
    // [N, C] batch norm, bit for bit on both kernels, then a product on its output (8,192 values, in the kernels' memory).
    const normalizedProduct = () => tidy(() => {
      const x = randn([128, 64], { seed: 74, requiresGrad: true }), gamma = randn([64], { seed: 75, requiresGrad: true });
      const beta = randn([64], { seed: 76, requiresGrad: true }), w = randn([64, 48], { seed: 77, requiresGrad: true });
      const y = matmul(batchNormFused(x, gamma, beta), w);
      return [y, ...grad(y, [x, gamma, beta, w], { gradOutputs: [randn(y.shape, { seed: 78 })] })].map((t) => t.storage.slice());
    });
    for (const step of [convStep, normalizedProduct]) {
      const reference = withKernels('js', step), fast = withKernels('wasm', step);
      fast.forEach((values, i) => expect(firstDifference(values, reference[i]), `${step.name} ${i}`).toBe(-1));
    }
  });
});

describe('choosing the kernels', () => {
  it('setKernels switches every kernel call and returns the previous choice', () => {
    const x = randn([6, 4], { seed: 3, requiresGrad: true }), gamma = randn([4], { seed: 4, requiresGrad: true }), beta = randn([4], { seed: 5, requiresGrad: true });
    const step = () => grad(batchNormFused(x, gamma, beta), [x, gamma, beta], { gradOutputs: [randn([6, 4], { seed: 6 })] }).map((t) => t.data);
    const previous = setKernels('js');
    try {
      expect(getKernels()).toBe('js');
      const reference = step();
      expect(setKernels('wasm')).toBe('js');
      expect(step()).toEqual(reference);
    } finally {
      setKernels(previous);
    }
  });

  it('names the argument and what it got', () => {
    expect(() => setKernels('webgpu' as 'js')).toThrow("setKernels: name must be 'js' or 'wasm', got the string 'webgpu'");
  });
});
