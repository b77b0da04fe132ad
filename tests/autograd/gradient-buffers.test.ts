import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { batchNorm, defineOp, grad, meanSquare, randn, tensor, type Tensor } from 'gradgraph';

/*
 * The backward pass adds into gradient buffers in place and gives them back for reuse when it
 * can prove no one else holds them (src/autograd/gradient-buffers.ts). A buffer reused while
 * someone still reads it would be silently wrong, so these compare every result with a pass that
 * reuses nothing (createGraph records the backward instead, so it never writes in place), and
 * check that what was handed out, or shown to a custom backward, never changes afterwards.
 */

// Large enough (≥ 4096 values) for the pool to take the buffers back.
const ROWS = 64;
const COLS = 80;

const step = fc.record({
  op: fc.constantFrom('add', 'mul', 'sub', 'div', 'reshape', 'rowMean', 'square', 'keep', 'negate', 'rowMeanSquare', 'flatRowMean', 'meanOfOther'),
  a: fc.nat(),
  b: fc.nat(),
});

/** A custom op whose backward keeps every gradient it is given, to check later that none changed. */
function keeper() {
  const seen: { tensor: Tensor; copy: number[] }[] = [];
  const op = defineOp({
    name: 'keep',
    forward: (t) => t.mul(1),
    backward: (_ctx, g) => {
      seen.push({ tensor: g, copy: Array.from(g.storage) });
      return [g];
    },
  });
  return { op, seen };
}

function build(steps: readonly { op: string; a: number; b: number }[], x: Tensor, y: Tensor, keep: (t: Tensor) => Tensor): Tensor[] {
  const values = [x, y];
  for (const { op, a, b } of steps) {
    const left = values[a % values.length];
    const right = values[b % values.length];
    const next = {
      add: () => left.add(right),
      mul: () => left.mul(right).mul(0.25),
      sub: () => left.sub(right),
      div: () => left.div(right.square().add(1)),
      reshape: () => left.reshape([COLS, ROWS]).reshape([ROWS, COLS]),
      rowMean: () => left.sub(left.mean(0, { keepdims: true })),
      square: () => left.square().mul(0.5),
      keep: () => keep(left),
      negate: () => left.neg(),
      // mean and meanSquare add their gradient into x's gradient so far when they may (gradientToAddInto).
      rowMeanSquare: () => left.sub(meanSquare(left, 0, { keepdims: true })),
      flatRowMean: () => left.mul(0.5).sub(left.mean(0)),
      meanOfOther: () => left.add(right.mean(0, { keepdims: true })),
    }[op]!();
    values.push(next);
  }
  return values.slice(2);
}

describe('gradient buffers written in place and reused', () => {
  it('give exactly the gradients of a pass that reuses nothing, on random graphs with shared and passed-through gradients', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), fc.nat(100), (steps, picks, seed) => {
      const x = randn([ROWS, COLS], { seed, requiresGrad: true });
      const y = randn([ROWS, COLS], { seed: seed + 1, requiresGrad: true });
      const reused = keeper();
      const values = build(steps, x, y, reused.op);
      const outputs = picks.map((p) => values[p % values.length]);
      const seeds = outputs.map((_, i) => randn([ROWS, COLS], { seed: seed + 10 + i }));
      const seedCopies = seeds.map((s) => Array.from(s.storage));
      const got = grad(outputs, [x, y], { gradOutputs: seeds, allowUnused: true });
      const gotCopies = got.map((g) => Array.from(g.storage));
      // The reference: createGraph never writes a gradient in place nor reuses one.
      const fresh = keeper();
      const again = build(steps, x, y, fresh.op);
      const want = grad(picks.map((p) => again[p % again.length]), [x, y], { gradOutputs: seeds, allowUnused: true, createGraph: true });
      got.forEach((g, i) => expect(Array.from(g.storage)).toEqual(Array.from(want[i].storage)));
      // More passes reuse what this one gave back: what was handed out stays as it was.
      for (let k = 0; k < 3; k++) grad(build(steps, x, y, (t) => t).at(-1)!, [x, y], { gradOutputs: seeds[0], allowUnused: true });
      got.forEach((g, i) => expect(Array.from(g.storage)).toEqual(gotCopies[i]));
      seeds.forEach((s, i) => expect(Array.from(s.storage)).toEqual(seedCopies[i]));
      reused.seen.forEach(({ tensor: kept, copy }) => expect(Array.from(kept.storage)).toEqual(copy));
    }), { numRuns: 150, seed: 12 });
  });

  it('keep the shared-buffer regression green at a size the pool reuses', () => {
    const n = 5000;
    const w = tensor(Array.from({ length: n }, (_, i) => i % 3 + 1));
    const k = tensor(new Array<number>(n).fill(100));
    const u = tensor(new Array<number>(n).fill(1), { requiresGrad: true });
    const v = tensor(new Array<number>(n).fill(2), { requiresGrad: true });
    const t = u.add(v);
    const loss = u.mul(k).sum().add(t.mul(w).sum().add(t.mul(t).sum()));
    const [gu, gv] = grad(loss, [u, v]);
    expect(Array.from(gv.storage.slice(0, 3))).toEqual([7, 8, 9]);
    expect(Array.from(gu.storage.slice(0, 3))).toEqual([107, 108, 109]);
    loss.backward();
    expect(Array.from(v.grad!.storage.slice(0, 3))).toEqual([7, 8, 9]);
    expect(Array.from(u.grad!.storage.slice(0, 3))).toEqual([107, 108, 109]);
  });

  it('leave gradients from earlier BN steps alone while later steps reuse buffers', () => {
    const x = randn([128, 64], { seed: 1, requiresGrad: true });
    const gamma = randn([64], { seed: 2, requiresGrad: true });
    const beta = randn([64], { seed: 3, requiresGrad: true });
    const dout = randn([128, 64], { seed: 4 });
    const step = () => grad(batchNorm(x, gamma, beta), [x, gamma, beta], { gradOutputs: [dout] });
    const first = step();
    const copies = first.map((g) => Array.from(g.storage));
    for (let i = 0; i < 5; i++) step().forEach((g, j) => expect(Array.from(g.storage)).toEqual(copies[j]));
    first.forEach((g, j) => expect(Array.from(g.storage)).toEqual(copies[j]));
    // Forward values made from reused buffers are right too.
    const y = batchNorm(x, gamma, beta);
    const check = batchNorm(x, gamma, beta);
    expect(Array.from(y.storage)).toEqual(Array.from(check.storage));
  });
});
