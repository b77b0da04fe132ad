import { forwardScale, gradientCoefficients, invStdFromVariance, momentsFromPowerSums, sameLength, varianceFromSquaredDeviations, type Kernels, type MatrixOperand, type Moments } from '../kernels.js';
import { layParameters, parameterTableValues, sweepModulesBytes, type SweepName } from './sweeps.js';
import { productModuleBytes } from './products.js';
import { dotModuleBytes } from './dots.js';
import { uninitializedValues } from '../../tensor/allocation.js';
import { jsKernels } from '../js.js';
import { reserveArena, type Arena } from './arena.js';

/*
 * The WebAssembly SIMD kernels. Their memory is also where large tensors' values live (arena.ts):
 * an array there is read and written in place. Any other array goes through a scratch block of
 * that memory: a kernel copies such inputs in, runs its sweeps there, and copies such outputs
 * out. Every sweep goes through the rows in blocks of about BLOCK_VALUES values, small enough
 * that a block stays in the core's cache between its copy and its sweep: an input is copied in by
 * the first sweep that reads it, block by block just before that sweep reads the block, and an
 * output is copied out block by block just after the sweep wrote it. Up to RESIDENT_VALUES
 * values, an input's copy stays for the kernel's later sweeps; larger inputs (whose copies would
 * not fit in the caches anyway) are copied again for each sweep, which keeps the scratch block a
 * few MB.
 */

export const RESIDENT_VALUES = 1 << 20;
export const BLOCK_VALUES = 1 << 15;

/** The part of the WebAssembly JavaScript API used here (our lib setting leaves out the DOM types that declare it). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  validate(bytes: Uint8Array): boolean;
}

const webAssembly = (): WebAssemblyApi | undefined => (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

type SweepFunction = (in0: number, in1: number, out0: number, out1: number, p0: number, p1: number, p2: number, p3: number, rows: number, channels: number, spatial: number) => void;
/** products.ts: out += op(A) · B, A[i, p] at a + i·aRowBytes + p·aStepBytes. */
type ProductFunction = (a: number, b: number, out: number, m: number, k: number, n: number, aRowBytes: number, aStepBytes: number) => void;
/** dots.ts: out += A · Bᵀ, A stored m×k and B n×k. */
type DotsFunction = (a: number, b: number, out: number, m: number, k: number, n: number) => void;

interface Instance {
  readonly arena: Arena;
  readonly sweeps: Record<SweepName, SweepFunction>;
  readonly matrixProduct: ProductFunction;
  readonly dotProducts: DotsFunction;
  /** The whole memory: the arena's blocks are ranges of it. */
  readonly heap: Float64Array;
  /** The block the copies and the per-channel slots go to, kept from call to call. */
  scratch: Float64Array | null;
  /** Where a product's matrices that live elsewhere are copied (COPIED_MATRIX_VALUES each): a block of its own, so a product leaves the scratch block (and forwardCopy) alone. */
  readonly productCopies: Float64Array | null;
}

let instance: Instance | null = null;

/** Compiles the modules on first use (synchronously: each is under browsers' 4 kB main-thread limit, which tests/backend/wasm holds them to). */
function getInstance(): Instance {
  if (instance) return instance;
  const api = webAssembly();
  if (!api) throw new Error('wasm kernels: this engine has no WebAssembly; use the js kernels (setKernels)');
  const arena = reserveArena(api.Memory);
  const imports = { env: { memory: arena.memory } };
  const exports = Object.assign({}, ...kernelModulesBytes().map((bytes) => new api.Instance(new api.Module(bytes), imports).exports)) as Record<SweepName, SweepFunction> & { matrixProduct: ProductFunction; dotProducts: DotsFunction };
  // The scratch blocks first, at the bottom, large enough for every call on rows of up to a block:
  // a loop outside tidy() can fill the rest with dead tensors before the collector gives them back.
  const scratch = arena.take(SCRATCH_VALUES) ?? null;
  const productCopies = arena.take(3 * COPIED_MATRIX_VALUES) ?? null;
  instance = { arena, sweeps: exports, matrixProduct: exports.matrixProduct, dotProducts: exports.dotProducts, heap: new Float64Array(arena.buffer), scratch, productCopies };
  return instance;
}

/** Every module the kernels compile, all on one memory: the sweeps' (sweeps.ts), then the products' (products.ts, dots.ts). */
export function kernelModulesBytes(): Uint8Array[] {
  return [...sweepModulesBytes(), productModuleBytes(), dotModuleBytes()];
}

/** The memory the WebAssembly kernels keep tensors' values in (see arena.ts); reserved on first use. */
export function wasmArena(): Arena {
  return getInstance().arena;
}

/** True when this engine runs WebAssembly with SIMD (Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  try {
    const api = webAssembly();
    return api !== undefined && kernelModulesBytes().every((bytes) => api.validate(bytes));
  } catch {
    return false;
  }
}

/**
 * A scratch block of at least `values` float64s, where the value at index i of the heap lies at
 * byte 8i; null when the arena has no room for it (the call then runs on the JavaScript loops).
 */
function scratchFor(values: number): Float64Array | null {
  const wasm = getInstance();
  if (wasm.scratch !== null && wasm.scratch.length >= values) return wasm.scratch;
  const larger = wasm.arena.take(values);
  if (larger === undefined) return null;
  if (wasm.scratch !== null) wasm.arena.release(wasm.scratch);
  wasm.scratch = larger;
  return larger;
}

const roundUpToPair = (values: number) => values + (values & 1);
const roundUpToLine = (values: number) => Math.ceil(values / 8) * 8;

// The per-channel arrays a kernel keeps in the scratch memory (one slot each; SCALE shares A's, DIVISOR MEAN's).
const MEAN = 0, DIVISOR = 0, INV_STD = 1, BETA = 2, A = 3, SCALE = 3, B = 4, D = 5, D_BETA = 6, D_GAMMA = 7;
const SLOTS = 8;
const NONE = -1;
/** The most inputs a kernel call copies (the backward's x and g). */
const MAX_INPUTS = 2;

/** The slots, then the table a storing sweep reads its parameters from (layParameters), on cache lines as the streams after them. */
function perChannelValues(channels: number): number {
  return SLOTS * roundUpToPair(channels) + roundUpToLine(parameterTableValues(channels));
}

/** What a call on rows of up to BLOCK_VALUES values and up to 8,192 channels needs of the scratch block (see Scratch). */
const SCRATCH_VALUES = 2 * RESIDENT_VALUES + BLOCK_VALUES + perChannelValues(8192);

interface ChannelViews {
  readonly slots: readonly Float64Array[];
  readonly table: Float64Array;
}

let lastViews: { scratch: Float64Array; channels: number; views: ChannelViews } | null = null;

/** Views of the per-channel slots and the table at the scratch block's start, kept from the last call when they still fit (small calls are mostly fixed costs). */
function channelViews(scratch: Float64Array, channelSlot: number, channels: number): ChannelViews {
  if (lastViews?.scratch !== scratch || lastViews.channels !== channels) {
    const slots: Float64Array[] = [];
    for (let slot = 0; slot < SLOTS; slot++) slots.push(scratch.subarray(slot * channelSlot, slot * channelSlot + channels));
    const table = scratch.subarray(SLOTS * channelSlot, SLOTS * channelSlot + parameterTableValues(channels));
    lastViews = { scratch, channels, views: { slots, table } };
  }
  return lastViews.views;
}

/**
 * A forward's copy of x, left in the scratch memory for its backward, which then need not copy
 * x again. Any other kernel call overwrites the scratch, so each one clears this first (in
 * Scratch's constructor). The backward knows its forward by the moments object that forward
 * returned, and x by identity; that x still holds the values the forward copied is the
 * caller's side of `batchNormBackward`'s contract, which the autograd engine checks before
 * every backward (saved values changed in place are refused).
 */
let forwardCopy: { x: Float64Array; moments: Moments; channels: number } | null = null;

/** How a call goes through its rows and where its copies go in the scratch block (see Scratch), in values. */
interface Layout {
  readonly rowValues: number;
  readonly rows: number;
  /** Rows per block: about BLOCK_VALUES values, at least one row. */
  readonly blockRows: number;
  /** Whether an input's copy is whole (up to RESIDENT_VALUES values) or one block. */
  readonly resident: boolean;
  readonly channelSlot: number;
  /** The slots and the table (perChannelValues). */
  readonly channelValues: number;
  readonly streamSlot: number;
}

function layoutOf(length: number, channels: number, spatial: number): Layout {
  const rowValues = channels * spatial;
  const rows = length / rowValues;
  const resident = length <= RESIDENT_VALUES;
  const blockRows = Math.min(rows, Math.max(1, Math.floor(BLOCK_VALUES / rowValues)));
  return {
    rowValues, rows, blockRows, resident,
    channelSlot: roundUpToPair(channels), channelValues: perChannelValues(channels), streamSlot: roundUpToPair((resident ? rows : blockRows) * rowValues),
  };
}

/**
 * One kernel call's arrays in the WebAssembly memory. Arrays the arena holds (arena.ts) are read
 * and written where they are. The others go through the scratch block: the per-channel slots
 * and the parameters' table first, then one slot per input stream to copy ([rows, channels,
 * spatial], all of one length; a whole copy when resident, one block otherwise), then one block
 * for an output to copy out. The per-channel arithmetic between sweeps works on views of the
 * slots, in place; a sweep that reads a table gets its parameters laid out there from the slots.
 */
class Scratch {
  readonly slots: readonly Float64Array[];
  /** Where a storing sweep on [N, C] reads its parameters, laid out as its steps read them (layParameters). */
  private readonly table: Float64Array;
  /** Per input: whether its whole copy is in place (resident inputs, after the first sweep that read them). */
  private readonly copied: boolean[];
  /** Per input: where it starts in the heap when the arena holds it (it is never copied), else -1. */
  private readonly inPlace: number[];
  /** Per input: where its copy starts in the heap, for inputs not in place. */
  private readonly copyAt: number[];
  private readonly outputBlockAt: number;

  /**
   * Null when the arena has no room for the scratch block. `copied`: inputs whose resident copy
   * an earlier call left in place (see forwardCopy).
   */
  static make(inputs: readonly Float64Array[], channels: number, spatial: number, copied: readonly boolean[] = []): Scratch | null {
    forwardCopy = null;
    const wasm = getInstance();
    const layout = layoutOf(inputs[0].length, channels, spatial);
    // Room for two copies whatever this call copies, so that a forward's block fits its backward:
    // a block that moved would leave the forward's copy of x behind.
    const before = wasm.scratch;
    const scratch = scratchFor(layout.channelValues + MAX_INPUTS * layout.streamSlot + roundUpToPair(layout.blockRows * layout.rowValues));
    return scratch === null ? null : new Scratch(wasm, scratch, inputs, channels, spatial, scratch === before ? copied : [], layout);
  }

  private constructor(
    private readonly wasm: Instance, scratch: Float64Array, private readonly inputs: readonly Float64Array[], private readonly channels: number,
    private readonly spatial: number, copied: readonly boolean[], private readonly layout: Layout,
  ) {
    const { channelSlot, channelValues, streamSlot } = layout;
    let next = scratch.byteOffset / 8 + channelValues;
    this.inPlace = inputs.map((input) => (wasm.arena.owns(input) ? input.byteOffset / 8 : -1));
    this.copyAt = this.inPlace.map((at) => {
      if (at >= 0) return -1;
      next += streamSlot;
      return next - streamSlot;
    });
    this.outputBlockAt = next;
    this.copied = inputs.map((_, i) => this.inPlace[i] >= 0 || (layout.resident && copied[i] === true));
    ({ slots: this.slots, table: this.table } = channelViews(scratch, channelSlot, channels));
  }

  private slotAddress(slot: number): number {
    return slot === NONE ? 0 : this.slots[slot].byteOffset;
  }

  /** Copies rows [start, end) (in values) of input `stream` in, unless its whole copy is there or it is in place; returns where they start, in values. */
  private blockOf(stream: number, start: number, end: number): number {
    if (this.inPlace[stream] >= 0) return this.inPlace[stream] + start;
    const at = this.copyAt[stream] + (this.layout.resident ? start : 0);
    if (!this.copied[stream]) {
      const input = this.inputs[stream];
      this.wasm.heap.set(start === 0 && end === input.length ? input : input.subarray(start, end), at);
    }
    return at;
  }

  /**
   * One sweep reading input streams in0 and in1 (NONE for none) with per-channel parameter slots
   * p0..p3 (laid out in the table first where the sweep reads one: layParameters), adding into
   * the slots in `sums` (zeroed first) or writing `output`.
   */
  sweep(name: SweepName, in0: number, in1: number, output: Float64Array | null, sums: readonly [number, number], p0 = NONE, p1 = NONE, p2 = NONE, p3 = NONE): void {
    const { wasm } = this;
    const { rows, rowValues, blockRows: rowsPerBlock, resident } = this.layout;
    for (const slot of sums) if (slot !== NONE) this.slots[slot].fill(0);
    const outputInPlace = output !== null && wasm.arena.owns(output);
    const target1 = this.slotAddress(sums[1]);
    const inTable = output !== null && layParameters(name, [p0, p1, p2, p3].map((slot) => this.slots[slot]), this.channels, this.spatial, this.table);
    const a0 = inTable ? this.table.byteOffset : this.slotAddress(p0), a1 = this.slotAddress(p1), a2 = this.slotAddress(p2), a3 = this.slotAddress(p3);
    const run = wasm.sweeps[name];
    const blocks = Math.ceil(rows / rowsPerBlock);
    for (let b = 0; b < blocks; b++) {
      // A sweep that stores follows one that summed: it goes through the blocks last first, the
      // ones still in cache from that sweep. (Sums must go in row order, as the loops add.)
      const row = (output ? blocks - 1 - b : b) * rowsPerBlock;
      const blockRows = Math.min(rowsPerBlock, rows - row);
      const start = row * rowValues, end = start + blockRows * rowValues;
      const in0At = this.blockOf(in0, start, end), in1At = in1 === NONE ? 0 : this.blockOf(in1, start, end);
      const target0 = output === null ? this.slotAddress(sums[0]) : outputInPlace ? output.byteOffset + start * 8 : this.outputBlockAt * 8;
      run(in0At * 8, in1At * 8, target0, target1, a0, a1, a2, a3, blockRows, this.channels, this.spatial);
      if (output && !outputInPlace) output.set(wasm.heap.subarray(this.outputBlockAt, this.outputBlockAt + (end - start)), start);
    }
    if (resident) {
      this.copied[in0] = true;
      if (in1 !== NONE) this.copied[in1] = true;
    }
  }

  /**
   * Mean and 1/σ per channel of input `stream` into the MEAN and INV_STD slots, as the JavaScript
   * kernel takes them: Σx and Σx² in one sweep, and Σ(x − μ)² in a second where those lose too
   * much to cancellation (momentsFromPowerSums), into the B slot, free until the forward's affine.
   */
  moments(stream: number, eps: number): void {
    const count = this.inputs[stream].length / this.channels;
    const { slots } = this;
    this.sweep('powerSums', stream, NONE, null, [MEAN, INV_STD]);
    if (momentsFromPowerSums(slots[MEAN], slots[INV_STD], count)) {
      this.sweep('squaredDeviations', stream, NONE, null, [B, NONE], MEAN);
      varianceFromSquaredDeviations(slots[INV_STD], slots[B], count);
    }
    invStdFromVariance(slots[INV_STD], eps);
  }

  /** True when input `stream` was copied in whole, to be left for a later call. */
  isResident(stream: number): boolean {
    return this.copied[stream] && this.inPlace[stream] < 0;
  }
}

/**
 * A product's matrices (A, B and out) that live outside the kernels' memory are copied in (and
 * out) up to this many values at a time: 128 KB each, so the copies stay in a core's L2 cache
 * while the product reads them. Results outside tidy() soon find the memory's share for them
 * full (arena.ts: UNSCOPED_BYTES) and take ordinary arrays, so most products of a loop outside
 * tidy() meet those: a convolution's per image (B 9×784, out 8×784) fits whole; a linear layer's
 * input (64×1568) goes a block at a time.
 */
export const COPIED_MATRIX_VALUES = 1 << 14;

/** Where `values` values of `data` from `offset` lie in the kernels' memory, in bytes: in place, or copied to `slot` of the copies' block. */
function matrixAddress(wasm: Instance, data: Float64Array, offset: number, values: number, slot: 0 | 1 | 2): number {
  if (wasm.arena.owns(data)) return data.byteOffset + 8 * offset;
  const at = wasm.productCopies!.byteOffset / 8 + slot * COPIED_MATRIX_VALUES;
  wasm.heap.set(data.subarray(offset, offset + values), at);
  return 8 * at;
}

/** Copies out's values back from where matrixAddress put them, unless it is in place. */
function copyBack(wasm: Instance, out: Float64Array, offset: number, values: number, at: number): void {
  if (!wasm.arena.owns(out)) out.set(wasm.heap.subarray(at / 8, at / 8 + values), offset);
}

/**
 * Kernels.matmulInto on WebAssembly, where the loops would scale rows of B (products.ts: B as
 * stored, n > 1) or take a dot product per element (dots.ts: A as stored, B transposed or one
 * column); true when it ran. Both transposed (rare) and A transposed into one column stay on the
 * loops. Matrices from elsewhere are copied (COPIED_MATRIX_VALUES), a large one in blocks that
 * are runs of its memory: rows of A and out where A is stored m×k, with all of B; steps of p
 * (rows of the stored A and of B) where A is stored k×m, with all of out, which carries each
 * element's running value from one block to the next, so every element still adds its p in
 * ascending order. The same sums as the loops, bit for bit, whatever the sizes, so this takes
 * any product it can.
 */
export function productOnWasm(a: MatrixOperand, b: MatrixOperand, m: number, k: number, n: number, out: Float64Array, outOffset: number): boolean {
  // As the loops: a matrix with one row or one column is the same run of values either way round.
  const ta = a.transposed && m !== 1 && k !== 1, tb = b.transposed && k !== 1 && n !== 1;
  // The loops' dot products: B's rows (n×k) against A's, B of one column being one such row.
  const dots = !ta && (tb || n === 1);
  if (k < 1 || (ta && (tb || n === 1))) return false;
  const wasm = getInstance();
  // No block for copies (no room at the start): only matrices in place (matrixAddress copies nothing then).
  const copyable = wasm.productCopies === null ? 0 : COPIED_MATRIX_VALUES;
  /** How many runs of `run` values of `data` fit a copy: all of them in place. */
  const runsAtOnce = (data: Float64Array, run: number) => (wasm.arena.owns(data) ? Infinity : Math.floor(copyable / run));
  if (!ta) {
    const rows = Math.min(m, runsAtOnce(a.data, k), runsAtOnce(out, n));
    if (rows < 1 || runsAtOnce(b.data, k * n) < 1) return false;
    const bAt = matrixAddress(wasm, b.data, b.offset, k * n, 1);
    for (let i = 0; i < m; i += rows) {
      const block = Math.min(rows, m - i);
      const aAt = matrixAddress(wasm, a.data, a.offset + i * k, block * k, 0), outAt = matrixAddress(wasm, out, outOffset + i * n, block * n, 2);
      if (dots) wasm.dotProducts(aAt, bAt, outAt, block, k, n);
      else wasm.matrixProduct(aAt, bAt, outAt, block, k, n, 8 * k, 8);
      copyBack(wasm, out, outOffset + i * n, block * n, outAt);
    }
    return true;
  }
  const steps = Math.min(k, runsAtOnce(a.data, m), runsAtOnce(b.data, n));
  if (steps < 1 || runsAtOnce(out, m * n) < 1) return false;
  const outAt = matrixAddress(wasm, out, outOffset, m * n, 2);
  for (let p = 0; p < k; p += steps) {
    const block = Math.min(steps, k - p);
    const aAt = matrixAddress(wasm, a.data, a.offset + p * m, block * m, 0), bAt = matrixAddress(wasm, b.data, b.offset + p * n, block * n, 1);
    // A[i, p] of the stored k×m at p·m + i.
    wasm.matrixProduct(aAt, bAt, outAt, m, block, n, 8, 8 * m);
  }
  copyBack(wasm, out, outOffset, m * n, outAt);
  return true;
}

/**
 * Below this many multiplies the loops finish before a call to WebAssembly (and its copies)
 * would: with A, B and out copied, 6×6×6 took 2.2x the loops' time, 8×8×8 1.2x, 10×10×10 0.7x
 * (with out in place, 6×6×6 0.6x). The dot products (dots.ts) break even about there too: all
 * copied, 6×6×6 2.6–3.1x, 10×10×10 1.2–1.3x, 8×8×16 0.6–1.1x.
 */
const PRODUCT_MIN_MULTIPLIES = 1024;

export const wasmKernels: Kernels = {
  name: 'wasm',

  channelMoments(x, channels, spatial, eps) {
    const scratch = Scratch.make([x], channels, spatial);
    if (scratch === null) return jsKernels.channelMoments(x, channels, spatial, eps);
    scratch.moments(0, eps);
    return { mean: scratch.slots[MEAN].slice(), invStd: scratch.slots[INV_STD].slice() };
  },

  channelSums(x, channels, squared) {
    const scratch = Scratch.make([x], channels, 1);
    if (scratch === null) return jsKernels.channelSums(x, channels, squared);
    // Σx² as the sweep of Σ(x − μ)² at μ = 0: x − 0 is x exactly (−0 too), so the same products in the same order.
    if (squared) {
      scratch.slots[BETA].fill(0);
      scratch.sweep('squaredDeviations', 0, NONE, null, [MEAN, NONE], BETA);
    } else {
      scratch.sweep('channelSum', 0, NONE, null, [MEAN, NONE]);
    }
    const sums = uninitializedValues(channels);
    sums.set(scratch.slots[MEAN]);
    return sums;
  },

  channelProductSums(p, q, channels) {
    const scratch = Scratch.make([p, q], channels, 1);
    if (scratch === null) return jsKernels.channelProductSums(p, q, channels);
    // Σ p·(q − μ), the backward's sweep, at μ = 0: q − 0 is q exactly (−0 too), so the same
    // products added in the same order (Σp comes beside them, at no cost on a pass bound by memory).
    scratch.slots[MEAN].fill(0);
    scratch.sweep('gradientSums', 0, 1, null, [D_BETA, D_GAMMA], MEAN);
    const sums = uninitializedValues(channels);
    sums.set(scratch.slots[D_GAMMA]);
    return sums;
  },

  channelAddInto(target, row, x, spatial = 1) {
    const channels = row.length;
    // In place only where each value is stored once: along runs (spatial > 1), or where a row is
    // whole steps of its sweep (see storingFeaturesCode): a narrower first step would overlap the
    // next and add that channel's row twice.
    const scratch = spatial > 1 || channels % 4 === 0 ? Scratch.make(x === null ? [target] : [target, x], channels, spatial) : null;
    if (scratch === null) return jsKernels.channelAddInto(target, row, x, spatial);
    const { slots } = scratch;
    slots[MEAN].fill(0);
    if (x === null) {
      // (t − 0)·1 + row: t·1 is t, so t + row.
      slots[SCALE].fill(1);
      slots[BETA].set(row);
      scratch.sweep('affine', 0, NONE, target, [NONE, NONE], MEAN, SCALE, BETA);
    } else {
      // 1·t + row·(x − 0) + (−0): t + x·row to the bit (products commute; adding −0 changes nothing).
      slots[A].fill(1);
      slots[B].set(row);
      slots[D].fill(-0);
      scratch.sweep('inputGradient', 0, 1, target, [NONE, NONE], MEAN, A, B, D);
    }
  },

  channelAffine(x, shift, scale, offset, spatial = 1) {
    const channels = shift.length;
    const scratch = Scratch.make([x], channels, spatial);
    if (scratch === null) return jsKernels.channelAffine(x, shift, scale, offset, spatial);
    const out = uninitializedValues(x.length);
    const { slots } = scratch;
    slots[MEAN].set(shift);
    slots[SCALE].set(scale);
    slots[BETA].set(offset);
    scratch.sweep('affine', 0, NONE, out, [NONE, NONE], MEAN, SCALE, BETA);
    return out;
  },

  channelQuotient(x, divisor, spatial = 1) {
    const scratch = Scratch.make([x], divisor.length, spatial);
    if (scratch === null) return jsKernels.channelQuotient(x, divisor, spatial);
    const out = uninitializedValues(x.length);
    scratch.slots[DIVISOR].set(divisor);
    scratch.sweep('quotient', 0, NONE, out, [NONE, NONE], DIVISOR);
    return out;
  },

  batchNormForward(x, gamma, beta, spatial, eps) {
    const scratch = Scratch.make([x], gamma.length, spatial);
    if (scratch === null) return jsKernels.batchNormForward(x, gamma, beta, spatial, eps);
    // After the scratch: taking the output may use the arena's last room, which the scratch needs more.
    const out = uninitializedValues(x.length);
    const { slots } = scratch;
    scratch.moments(0, eps);
    slots[BETA].set(beta);
    forwardScale(gamma, slots[INV_STD], slots[SCALE]);
    scratch.sweep('affine', 0, NONE, out, [NONE, NONE], MEAN, SCALE, BETA);
    const moments = { mean: slots[MEAN].slice(), invStd: slots[INV_STD].slice() };
    if (scratch.isResident(0)) forwardCopy = { x, moments, channels: gamma.length };
    return { output: out, moments };
  },

  batchNormBackward(g, x, gamma, moments, spatial) {
    const channels = gamma.length;
    const { mean, invStd } = moments;
    const left = forwardCopy;
    // x first, where its forward left it: stream 0 of a call with as many channels.
    const scratch = Scratch.make([x, g], channels, spatial, [left?.moments === moments && left.x === x && left.channels === channels]);
    if (scratch === null) return jsKernels.batchNormBackward(g, x, gamma, moments, spatial);
    const dx = uninitializedValues(x.length);
    const { slots } = scratch;
    slots[MEAN].set(mean);
    slots[INV_STD].set(invStd);
    scratch.sweep('gradientSums', 1, 0, null, [D_BETA, D_GAMMA], MEAN);
    gradientCoefficients(slots[D_BETA], slots[D_GAMMA], gamma, invStd, x.length / channels, slots[A], slots[B], slots[D]);
    scratch.sweep('inputGradient', 1, 0, dx, [NONE, NONE], MEAN, A, B, D);
    return { x: dx, gamma: slots[D_GAMMA].slice(), beta: slots[D_BETA].slice() };
  },

  matmulInto(a, b, m, k, n, out, outOffset) {
    if (m * k * n < PRODUCT_MIN_MULTIPLIES || !productOnWasm(a, b, m, k, n, out, outOffset)) jsKernels.matmulInto(a, b, m, k, n, out, outOffset);
  },

  relu: (x) => elementwiseSweep('relu', [x]) ?? jsKernels.relu(x),

  reluGradient(g, x) {
    sameLength('reluGradient', g, x);
    return elementwiseSweep('reluGradient', [g, x]) ?? jsKernels.reluGradient(g, x);
  },
};

/**
 * An elementwise sweep of `inputs` (of one length) into a new array; null when there is no block
 * to copy through. When the arena holds the inputs and the output, one call reads and writes them
 * in place. Otherwise the sweep goes COPIED_MATRIX_VALUES values at a time (128 kB an array, in
 * the core's cache between copy and sweep), arrays from elsewhere copied through the products'
 * copy blocks, not the scratch block: a BN forward's copy of x left there for its backward
 * (forwardCopy) then outlives the relu between the two.
 */
function elementwiseSweep(name: 'relu' | 'reluGradient', inputs: readonly Float64Array[]): Float64Array | null {
  const wasm = getInstance();
  if (wasm.productCopies === null) return null;
  const length = inputs[0].length;
  const out = uninitializedValues(length);
  const inPlace = [...inputs, out].every((array) => wasm.arena.owns(array));
  const chunk = inPlace ? length : COPIED_MATRIX_VALUES;
  const outBlock = wasm.productCopies.byteOffset + 2 * 8 * COPIED_MATRIX_VALUES;
  for (let start = 0; start < length; start += chunk) {
    const values = Math.min(chunk, length - start);
    const [in0, in1 = 0] = inputs.map((input, slot) => matrixAddress(wasm, input, start, values, slot as 0 | 1));
    const outAt = wasm.arena.owns(out) ? out.byteOffset + 8 * start : outBlock;
    wasm.sweeps[name](in0, in1, outAt, 0, 0, 0, 0, 0, values, 1, 1);
    copyBack(wasm, out, start, values, outAt);
  }
  return out;
}
