import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tensor, grad, tidy } from 'gradgraph';
import { jsKernels } from '../../src/backend/js.js';
import { COPIED_MATRIX_VALUES, wasmArena, wasmKernels } from '../../src/backend/wasm/kernels.js';
import { withKernels } from '../helpers.js';

/*
 * Kernels.relu and Kernels.reluGradient on WebAssembly against the JavaScript loops, the
 * reference, bit for bit: the raw bits of every value, NaN's included (on this machine the SIMD
 * lanes and V8's scalar code make the same NaNs). Arrays in the kernels' memory are read and
 * written in place, others copied through blocks of COPIED_MATRIX_VALUES, so lengths go around
 * those blocks' edges, with the arrays in either place.
 */

const SPECIAL = [
  NaN, -NaN, 0, -0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, 2.2250738585072009e-308, -2.2250738585072009e-308,
  Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1, 1e300, -1e300, 1e-300, -1e-300,
];

/** The first index whose raw bits differ, or -1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return -2;
  const bitsA = new BigUint64Array(a.buffer, a.byteOffset, a.length), bitsB = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  return bitsA.findIndex((bits, i) => bits !== bitsB[i]);
}

/** `length` values cycling through SPECIAL, a pseudo-random value of either sign every third one; `shift` offsets the cycle (g against x). */
function valuesWithSpecials(length: number, shift: number): Float64Array {
  return Float64Array.from({ length }, (_, i) => (i % 3 === 2 ? Math.sin(i * 12.9898 + shift) * 43758.5453 % 10 : SPECIAL[(i + shift) % SPECIAL.length]));
}

/** A copy of `values` in the kernels' memory, or an ordinary one. */
function placed(values: Float64Array, inArena: boolean): Float64Array {
  if (!inArena) return values.slice();
  const view = wasmArena().take(values.length);
  if (view === undefined) throw new Error(`no room in the kernels' memory for ${values.length} values`);
  view.set(values);
  return view;
}

/** relu and its gradient of x (and g) on both kernels, the inputs placed as asked, bit for bit. */
function expectAgreement(x: Float64Array, g: Float64Array, xInArena: boolean, gInArena: boolean): void {
  const where = `${x.length} values, x ${xInArena ? 'in' : 'outside'} the arena, g ${gInArena ? 'in' : 'outside'}`;
  const xs = placed(x, xInArena), gs = placed(g, gInArena);
  try {
    expect(firstDifference(wasmKernels.relu(xs), jsKernels.relu(x)), `relu, ${where}`).toBe(-1);
    expect(firstDifference(wasmKernels.reluGradient(gs, xs), jsKernels.reluGradient(g, x)), `reluGradient, ${where}`).toBe(-1);
    // The inputs are left as they were.
    expect([firstDifference(xs, x), firstDifference(gs, g)], where).toEqual([-1, -1]);
  } finally {
    for (const view of [xs, gs]) if (wasmArena().owns(view)) wasmArena().release(view);
  }
}

const PLACES = [[false, false], [true, true], [true, false], [false, true]] as const;

describe('the relu kernels', () => {
  it('are the loops\' expressions: NaN and −0 kept, g·0 at x ≤ 0 (so −0 and NaN), g at NaN', () => {
    const x = new Float64Array([NaN, -0, 0, -1, 2, -Infinity, Infinity, -5e-324, 5e-324, -3, -3, -3, NaN]);
    const g = new Float64Array([-2, 3, -4, -5, 6, 7, 8, 9, 10, Infinity, -Infinity, NaN, -7]);
    const expected = { relu: [NaN, -0, 0, 0, 2, 0, Infinity, 0, 5e-324, 0, 0, 0, NaN], gradient: [-2, 0, -0, -0, 6, 0, 8, 0, 10, NaN, NaN, NaN, -7] };
    /** The values as listed, −0 and NaN told apart (Object.is). */
    const asListed = (values: Float64Array, list: readonly number[]) => values.length === list.length && values.every((value, i) => Object.is(value, list[i]));
    for (const kernels of [jsKernels, wasmKernels]) {
      const forward = kernels.relu(x), gradient = kernels.reluGradient(g, x);
      expect(asListed(forward, expected.relu), `${kernels.name} relu: ${[...forward]}`).toBe(true);
      expect(asListed(gradient, expected.gradient), `${kernels.name} reluGradient: ${[...gradient]}`).toBe(true);
    }
  });

  it('agree bit for bit with special values, at every length to 13 and around the copy blocks\' edges, in and outside the kernels\' memory', () => {
    const block = COPIED_MATRIX_VALUES;
    const lengths = [...Array.from({ length: 14 }, (_, n) => n), 4095, 4096, 4097, block - 1, block, block + 1, 2 * block - 3, 2 * block + 5, 3 * block + 1];
    for (const length of lengths) {
      for (const [xInArena, gInArena] of PLACES) expectAgreement(valuesWithSpecials(length, 0), valuesWithSpecials(length, 5), xInArena, gInArena);
    }
  });

  it('agree bit for bit on any doubles (fast-check)', () => {
    const doubles = fc.array(fc.oneof(fc.double(), fc.constantFrom(...SPECIAL)), { maxLength: 40 });
    fc.assert(fc.property(doubles, doubles, fc.constantFrom(...PLACES), (xs, gs, [xInArena, gInArena]) => {
      const length = Math.min(xs.length, gs.length);
      expectAgreement(Float64Array.from(xs.slice(0, length)), Float64Array.from(gs.slice(0, length)), xInArena, gInArena);
    }));
  });

  it('refuse g and x of different lengths, naming the kernel', () => {
    for (const kernels of [jsKernels, wasmKernels]) {
      expect(() => kernels.reluGradient(new Float64Array(3), new Float64Array(4))).toThrow('reluGradient: g and x must have one length, got 3 and 4');
    }
  });
});

describe('relu on large tensors', () => {
  it('goes the same to the bit, forward and backward, on the WebAssembly kernels and on the loops', () => {
    const x = valuesWithSpecials(2 * 4 * 28 * 28 + 3, 0), g = valuesWithSpecials(x.length, 7);
    const run = () => tidy(() => {
      const input = new Tensor(x.slice(), [x.length], { requiresGrad: true });
      const y = input.relu();
      const [dx] = grad([y], [input], { gradOutputs: [new Tensor(g.slice(), [g.length])] });
      return [y.storage.slice(), dx.storage.slice()];
    });
    const [wasm, js] = [withKernels('wasm', run), withKernels('js', run)];
    expect(firstDifference(wasm[0], js[0]), 'forward').toBe(-1);
    expect(firstDifference(wasm[1], js[1]), 'backward').toBe(-1);
    // And the op's own loops (on 'js') are the kernels' reference.
    expect([firstDifference(js[0], jsKernels.relu(x)), firstDifference(js[1], jsKernels.reluGradient(g, x))]).toEqual([-1, -1]);
  });
});
