import { describeValue } from '../validate.js';
import { jsKernels } from './js.js';
import type { Kernels, KernelsName } from './kernels.js';
import { setArenaSource } from '../tensor/allocation.js';
import { wasmArena, wasmKernels, wasmSimdSupported } from './wasm/kernels.js';

/*
 * The one place that picks the kernels: WebAssembly SIMD where the engine has it, the JavaScript
 * loops otherwise, or whichever GRADGRAPH_KERNELS (js or wasm) or setKernels() asks for. Decided
 * on first use, not at import, so importing gradgraph compiles nothing.
 */

export type { Kernels, KernelsName, Moments, BatchNormGradients } from './kernels.js';

const BY_NAME: Record<KernelsName, Kernels> = { js: jsKernels, wasm: wasmKernels };

let active: Kernels | null = null;

function fromEnvironment(): KernelsName | undefined {
  // process is Node's; a page has none, and a bundler may leave the reference as it is.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const asked = env?.GRADGRAPH_KERNELS;
  if (asked === undefined || asked === '') return undefined;
  if (asked !== 'js' && asked !== 'wasm') throw new Error(`gradgraph: GRADGRAPH_KERNELS must be 'js' or 'wasm', got '${asked}'`);
  return asked;
}

function choose(name: KernelsName): Kernels {
  if (name === 'wasm' && !wasmSimdSupported()) throw new Error(`setKernels: 'wasm' needs WebAssembly with SIMD, which this engine lacks; use 'js'`);
  return BY_NAME[name];
}

/** The kernels in use. */
export function kernels(): Kernels {
  active ??= choose(fromEnvironment() ?? (wasmSimdSupported() ? 'wasm' : 'js'));
  return active;
}

// Large results live where the kernels in use read them: the WebAssembly kernels' memory (wasm/arena.ts), or ordinary arrays.
setArenaSource(() => (kernels() === wasmKernels ? wasmArena() : null));

/** Below this many values a call to the WebAssembly kernels costs more than it saves. */
const SIMD_CALL_MIN_VALUES = 4096;

/**
 * Whether an op's pass over `values` values should go to the kernels: only when they are the
 * WebAssembly ones (the JavaScript kernels are no faster than the op's own compiled loop) and
 * the pass is large enough to pay for the call.
 */
export function worthSimdKernels(values: number): boolean {
  return values >= SIMD_CALL_MIN_VALUES && kernels() === wasmKernels;
}

/** The name of the kernels in use: 'wasm' or 'js'. */
export function getKernels(): KernelsName {
  return kernels().name;
}

/**
 * Makes every kernel call use `name`: 'wasm' (WebAssembly SIMD, the default where available) or
 * 'js' (plain loops, the reference). Returns the previous choice, so a caller can restore it.
 */
export function setKernels(name: KernelsName): KernelsName {
  if (name !== 'js' && name !== 'wasm') throw new Error(`setKernels: name must be 'js' or 'wasm', got ${describeValue(name)}`);
  const previous = kernels().name;
  active = choose(name);
  return previous;
}
