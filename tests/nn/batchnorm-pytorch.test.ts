import { describe, expect, it } from 'vitest';
import { BatchNorm1d, batchNorm, batchNormFused, batchNormInference, grad, tensor, type Tensor } from 'gradgraph';
import { pytorch } from '../fixtures/pytorch-edges.js';
import { relativeError } from './helpers.js';

/* Batch norm against PyTorch's F.batch_norm in float64 (tests/fixtures/pytorch-edges.py). */

const matrix = (rows: number[][], requiresGrad = false) => tensor(rows, { requiresGrad });

/** The output and the gradients with respect to x, gamma and beta, for gradient g. */
function explicitAndFused(x: number[][], gamma: number[], beta: number[], g: number[][], eps: number) {
  const run = (norm: typeof batchNormFused, createGraph: boolean) => {
    const [xt, gt, bt] = [matrix(x, true), tensor(gamma, { requiresGrad: true }), tensor(beta, { requiresGrad: true })];
    const y = norm(xt, gt, bt, { eps });
    const [dx, dgamma, dbeta] = grad(y, [xt, gt, bt], { gradOutputs: [matrix(g)], createGraph });
    return { y, dx, dgamma, dbeta };
  };
  return { explicit: run(batchNorm, false), fused: run(batchNormFused, false), fusedRecorded: run(batchNormFused, true) };
}

describe('batch norm with eps = 0 on a constant channel', () => {
  const reference = pytorch.batchNormConstantColumn;
  const { x, gamma, beta, g, eps } = reference;

  it('gives y = β there and dx = dγ = 0, dβ = Σg, as PyTorch does, explicit and fused', () => {
    for (const [name, result] of Object.entries(explicitAndFused(x, gamma, beta, g, eps))) {
      expect(result.y.toArray(), name).toEqual(reference.y.map((row) => row.map((v) => expect.closeTo(v, 13))));
      expect(result.dx.toArray(), name).toEqual(reference.dx.map((row) => row.map((v) => expect.closeTo(v, 13))));
      expect(result.dgamma.toArray(), name).toEqual(reference.dgamma.map((v) => expect.closeTo(v, 13)));
      expect(result.dbeta.toArray(), name).toEqual(reference.dbeta);
    }
  });

  it('stays finite when differentiated twice, and in eval mode with a zero running variance', () => {
    const xt = matrix(x, true);
    const y = batchNorm(xt, tensor(gamma), tensor(beta), { eps: 0 });
    const [dx] = grad(y.square().sum(), xt, { createGraph: true });
    const [ddx] = grad(dx.square().sum(), xt);
    expect([...ddx.data].every(Number.isFinite)).toBe(true);
    const inference = batchNormInference(matrix(x), tensor([1, 2]), tensor([0, 1]), tensor(gamma), tensor(beta), { eps: 0 });
    expect(inference.toArray()).toEqual([[0.5, -1], [0.5, 1], [0.5, 5]]);
    const module = new BatchNorm1d(2, { eps: 0 });
    expect([...module.call(matrix(x)).data].every(Number.isFinite)).toBe(true);
  });
});

describe('batch norm far from the origin', () => {
  const { spread, g, gamma, beta, eps, cases } = pytorch.batchNormOffsets;
  const worst = (a: Tensor, b: number[][] | number[]) => relativeError(a, tensor(b));

  // What the README's accuracy paragraph quotes (`npx vitest run tests/nn/batchnorm-pytorch.test.ts`).
  it.each(cases.map((c) => [c.offset, c] as const))('offset %d: every implementation is as far from the exact values as x is rounded', (offset, reference) => {
    const x = spread.map((row) => row.map((v) => offset + v));
    const { explicit, fused, fusedRecorded } = explicitAndFused(x, gamma, beta, g, eps);
    const versus = (expected: { y: number[][]; dx: number[][] }) => (result: { y: Tensor; dx: Tensor }) => ({
      y: worst(result.y, expected.y), dx: worst(result.dx, expected.dx),
    });
    const exact = versus(reference.exact);
    const torch = { y: tensor(reference.y), dx: tensor(reference.dx) };
    const report = {
      vsExact: { torch: exact(torch), explicit: exact(explicit), fused: exact(fused), fusedRecorded: exact(fusedRecorded) },
      vsTorch: { explicit: versus(reference)(explicit), fused: versus(reference)(fused), fusedRecorded: versus(reference)(fusedRecorded) },
    };
    console.log(`offset ${offset}, max |a − b| / max |b|: ${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toExponential(1)) : v))}`);
    // The closed form is PyTorch's formula: their dx agree to rounding at every offset.
    expect(report.vsTorch.fused.dx).toBeLessThan(1e-15);
    // x = offset + spread is itself rounded by up to ulp(offset)/2 (5.8e-11 of the spread at 1e6,
    // 7.5e-9 at 1e8); every implementation, PyTorch's too, loses about that much and no more.
    const bound = 1e-15 + 1e-16 * offset;
    for (const [name, errors] of Object.entries(report.vsExact)) {
      for (const [what, value] of Object.entries(errors)) expect(value, `${name} ${what}`).toBeLessThan(bound);
    }
    for (const result of [explicit, fused, fusedRecorded]) {
      expect(worst(result.dgamma, reference.dgamma)).toBeLessThan(bound);
      expect(worst(result.dbeta, reference.dbeta)).toBeLessThan(1e-15);
    }
  });
});
