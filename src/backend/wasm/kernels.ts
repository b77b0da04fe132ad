import { forwardScale, gradientCoefficients, invStdFromSquaredDeviations, meanFromSums, type Kernels, type Moments } from '../kernels.js';
import { sweepModuleBytes, type SweepName } from './sweeps.js';
import { uninitializedValues } from '../../tensor/allocation.js';

/*
 * The WebAssembly SIMD kernels, run on copies: a kernel copies its inputs into one scratch
 * memory, runs its sweeps there, and copies its outputs out (the README's "Kernels" section says
 * why tensors do not live in WebAssembly memory). Every sweep goes through the rows in blocks of
 * about BLOCK_VALUES values, small enough that a block stays in the core's cache between its
 * copy and its sweep: an input is copied in by the first sweep that reads it, block by block
 * just before that sweep reads the block, and an output is copied out block by block just after
 * the sweep wrote it. Up to RESIDENT_VALUES values, an input's copy stays for the kernel's later
 * sweeps; larger inputs (whose copies would not fit in the caches anyway) are copied again for
 * each sweep, which keeps the scratch memory a few MB.
 */

export const RESIDENT_VALUES = 1 << 20;
export const BLOCK_VALUES = 1 << 15;
const PAGE_BYTES = 65_536;

/** The part of the WebAssembly JavaScript API used here (our lib setting leaves out the DOM types that declare it). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  validate(bytes: Uint8Array): boolean;
}
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }

const webAssembly = (): WebAssemblyApi | undefined => (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

type SweepFunction = (in0: number, in1: number, out0: number, out1: number, p0: number, p1: number, p2: number, p3: number, rows: number, channels: number, spatial: number) => void;

interface Instance {
  readonly memory: WasmMemory;
  readonly sweeps: Record<SweepName, SweepFunction>;
  heap: Float64Array;
}

let instance: Instance | null = null;

/** Compiles the module on first use (synchronously: it is under browsers' 4 kB main-thread limit, which tests/backend/wasm holds it to). */
function getInstance(): Instance {
  if (instance) return instance;
  const api = webAssembly();
  if (!api) throw new Error('wasm kernels: this engine has no WebAssembly; use the js kernels (setKernels)');
  const memory = new api.Memory({ initial: 1 });
  const module = new api.Module(sweepModuleBytes());
  const exports = new api.Instance(module, { env: { memory } }).exports as Record<SweepName, SweepFunction>;
  instance = { memory, sweeps: exports, heap: new Float64Array(memory.buffer) };
  return instance;
}

/** True when this engine runs WebAssembly with SIMD (Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  try {
    return webAssembly()?.validate(sweepModuleBytes()) === true;
  } catch {
    return false;
  }
}

/** The heap, grown to hold `values` float64s; growing replaces the buffer, so the view is taken afresh. */
function heapFor(values: number): Float64Array {
  const wasm = getInstance();
  const bytes = values * 8;
  if (bytes > wasm.memory.buffer.byteLength) {
    try {
      wasm.memory.grow(Math.ceil((bytes - wasm.memory.buffer.byteLength) / PAGE_BYTES));
    } catch (error) {
      // Only rows of tens of millions of values get here (a block holds at least one row), on an engine or machine with less room.
      throw new Error(`wasm kernels: the scratch memory cannot grow to ${bytes} bytes (${(error as Error).message}); rows this wide need the JavaScript kernels: setKernels('js')`);
    }
    wasm.heap = new Float64Array(wasm.memory.buffer);
  }
  return wasm.heap;
}

const roundUpToPair = (values: number) => values + (values & 1);

// The per-channel arrays a kernel keeps in the scratch memory (one slot each; SCALE shares A's).
const MEAN = 0, INV_STD = 1, BETA = 2, A = 3, SCALE = 3, B = 4, D = 5, D_BETA = 6, D_GAMMA = 7;
const SLOTS = 8;
const NONE = -1;

let lastSlots: { heap: Float64Array; channels: number; views: readonly Float64Array[] } | null = null;

/** Views of the per-channel slots, kept from the last call when they still fit (small calls are mostly fixed costs). */
function slotViews(heap: Float64Array, channelSlot: number, channels: number): readonly Float64Array[] {
  if (lastSlots?.heap !== heap || lastSlots.channels !== channels) {
    const views: Float64Array[] = [];
    for (let slot = 0; slot < SLOTS; slot++) views.push(heap.subarray(slot * channelSlot, slot * channelSlot + channels));
    lastSlots = { heap, channels, views };
  }
  return lastSlots.views;
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

/**
 * One kernel call's arrays in the scratch memory: the per-channel slots first, then one slot per
 * input stream ([rows, channels, spatial], all of one length; a whole copy when resident, one
 * block otherwise), then one block for an output. The per-channel arithmetic between sweeps
 * works on views of the slots, in place.
 */
class Scratch {
  readonly slots: readonly Float64Array[];
  private readonly rowValues: number;
  private readonly rows: number;
  private readonly blockRows: number;
  private readonly resident: boolean;
  /** Per input: whether its whole copy is in place (resident inputs, after the first sweep that read them). */
  private readonly copied: boolean[];
  private readonly channelSlot: number;
  private readonly streamSlot: number;
  private readonly heap: Float64Array;

  /** `copied`: inputs whose resident copy an earlier call left in place (see forwardCopy). */
  constructor(private readonly inputs: readonly Float64Array[], private readonly channels: number, private readonly spatial: number, copied: readonly boolean[] = []) {
    forwardCopy = null;
    this.rowValues = channels * spatial;
    this.rows = inputs[0].length / this.rowValues;
    this.resident = inputs[0].length <= RESIDENT_VALUES;
    this.blockRows = Math.min(this.rows, Math.max(1, Math.floor(BLOCK_VALUES / this.rowValues)));
    this.copied = inputs.map((_, i) => this.resident && copied[i] === true);
    this.channelSlot = roundUpToPair(channels);
    this.streamSlot = roundUpToPair((this.resident ? this.rows : this.blockRows) * this.rowValues);
    this.heap = heapFor(SLOTS * this.channelSlot + inputs.length * this.streamSlot + roundUpToPair(this.blockRows * this.rowValues));
    this.slots = slotViews(this.heap, this.channelSlot, channels);
  }

  /** Where input `stream`'s copy starts, in values (for stream 0, a function of the channels only). */
  private streamAt(stream: number): number {
    return SLOTS * this.channelSlot + stream * this.streamSlot;
  }

  private slotAddress(slot: number): number {
    return slot === NONE ? 0 : slot * this.channelSlot * 8;
  }

  /** Copies rows [start, end) (in values) of input `stream` in, unless its whole copy is there; returns where they start, in values. */
  private blockOf(stream: number, start: number, end: number): number {
    const at = this.streamAt(stream) + (this.resident ? start : 0);
    if (!this.copied[stream]) {
      const input = this.inputs[stream];
      this.heap.set(start === 0 && end === input.length ? input : input.subarray(start, end), at);
    }
    return at;
  }

  /**
   * One sweep reading input streams in0 and in1 (NONE for none) with per-channel parameter slots
   * p0..p3, adding into the slots in `sums` (zeroed first) or writing `output`.
   */
  sweep(name: SweepName, in0: number, in1: number, output: Float64Array | null, sums: readonly [number, number], p0 = NONE, p1 = NONE, p2 = NONE, p3 = NONE): void {
    const { heap, rowValues } = this;
    for (const slot of sums) if (slot !== NONE) this.slots[slot].fill(0);
    const outAt = this.streamAt(this.inputs.length);
    const target0 = output ? outAt * 8 : this.slotAddress(sums[0]), target1 = this.slotAddress(sums[1]);
    const a0 = this.slotAddress(p0), a1 = this.slotAddress(p1), a2 = this.slotAddress(p2), a3 = this.slotAddress(p3);
    const run = getInstance().sweeps[name];
    const blocks = Math.ceil(this.rows / this.blockRows);
    for (let b = 0; b < blocks; b++) {
      // A sweep that stores follows one that summed: it goes through the blocks last first, the
      // ones still in cache from that sweep. (Sums must go in row order, as the loops add.)
      const row = (output ? blocks - 1 - b : b) * this.blockRows;
      const blockRows = Math.min(this.blockRows, this.rows - row);
      const start = row * rowValues, end = start + blockRows * rowValues;
      const in0At = this.blockOf(in0, start, end), in1At = in1 === NONE ? 0 : this.blockOf(in1, start, end);
      run(in0At * 8, in1At * 8, target0, target1, a0, a1, a2, a3, blockRows, this.channels, this.spatial);
      if (output) output.set(heap.subarray(outAt, outAt + (end - start)), start);
    }
    if (this.resident) {
      this.copied[in0] = true;
      if (in1 !== NONE) this.copied[in1] = true;
    }
  }

  /** Mean and 1/σ per channel of input `stream` into the MEAN and INV_STD slots, in two sweeps (the second over x − μ), as the JavaScript kernel does. */
  moments(stream: number, eps: number): void {
    const count = this.inputs[stream].length / this.channels;
    this.sweep('channelSum', stream, NONE, null, [MEAN, NONE]);
    meanFromSums(this.slots[MEAN], count);
    this.sweep('squaredDeviations', stream, NONE, null, [INV_STD, NONE], MEAN);
    invStdFromSquaredDeviations(this.slots[INV_STD], count, eps);
  }

  /** True when input `stream` is in place whole, to be left for a later call. */
  isResident(stream: number): boolean {
    return this.copied[stream];
  }
}

export const wasmKernels: Kernels = {
  name: 'wasm',

  channelMoments(x, channels, spatial, eps) {
    const scratch = new Scratch([x], channels, spatial);
    scratch.moments(0, eps);
    return { mean: scratch.slots[MEAN].slice(), invStd: scratch.slots[INV_STD].slice() };
  },

  batchNormForward(x, gamma, beta, spatial, eps) {
    const out = uninitializedValues(x.length);
    const scratch = new Scratch([x], gamma.length, spatial);
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
    const dx = uninitializedValues(x.length);
    const left = forwardCopy;
    // x first, where its forward left it: stream 0 of a call with as many channels.
    const scratch = new Scratch([x, g], channels, spatial, [left?.moments === moments && left.x === x && left.channels === channels]);
    const { slots } = scratch;
    slots[MEAN].set(mean);
    slots[INV_STD].set(invStd);
    scratch.sweep('gradientSums', 1, 0, null, [D_BETA, D_GAMMA], MEAN);
    gradientCoefficients(slots[D_BETA], slots[D_GAMMA], gamma, invStd, x.length / channels, slots[A], slots[B], slots[D]);
    scratch.sweep('inputGradient', 1, 0, dx, [NONE, NONE], MEAN, A, B, D);
    return { x: dx, gamma: slots[D_GAMMA].slice(), beta: slots[D_BETA].slice() };
  },
};
