import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import * as gg from 'gradgraph';
import type { Tensor } from 'gradgraph';
import { leaf, shapeArb } from '../helpers.js';

/* softmax, logSoftmax and the class losses: second-order gradient checks, stability, PyTorch's shapes. */

const runs = { numRuns: 12 };

const shapeAndAxis = shapeArb(3).filter((s) => s.length > 0).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), fc.integer()));

describe('softmax and logSoftmax', () => {
  it.each([['softmax', gg.softmax], ['logSoftmax', gg.logSoftmax]] as const)('%s passes gradcheck and gradgradcheck along any axis', (_name, op) => {
    fc.assert(fc.property(shapeAndAxis, ([shape, axis, seed]) => {
      const x = leaf(shape, seed);
      // A weighted sum, so that the gradient of a row that sums to 1 is not trivially 0.
      const weights = gg.tensor(Array.from({ length: x.size }, (_, i) => (i % 5) - 2), { shape });
      const f = (t: Tensor) => op(t, axis).mul(weights);
      expect(f).toPassGradcheck([x]);
      expect(f).toPassGradgradcheck([x]);
    }), runs);
  });

  it('stay exact for inputs far beyond exp’s range', () => {
    const x = gg.tensor([[1000, 1001, 1002], [-1000, -1000, 0]]);
    const p = gg.softmax(x, 1).data;
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const total = e[0] + e[1] + e[2];
    e.forEach((v, i) => expect(p[i]).toBeCloseTo(v / total, 15));
    expect(gg.logSoftmax(x, 1).data[3]).toBeCloseTo(-1000, 12);
    expect(gg.logSoftmax(x, -1).toArray()).toEqual(gg.logSoftmax(x, 1).toArray());
    expect([...gg.softmax(x, 1).sum(1).data].map((v) => Math.abs(v - 1) < 1e-15)).toEqual([true, true]);
  });

  it('take the axis as PyTorch’s dim, negative allowed, and refuse a bad one', () => {
    expect(() => gg.softmax(gg.zeros([2, 3]), 2)).toThrow('softmax: axis 2 is out of range for a tensor with 2 dimension(s) (valid: -2 to 1)');
    expect(() => gg.logSoftmax(gg.zeros([2, 3]), undefined as never)).toThrow('logSoftmax: axis must be an integer, got undefined');
    expect(gg.softmax(gg.tensor(3), 0).item()).toBe(1);
  });
});

describe('crossEntropy and nllLoss', () => {
  const targetsFor = (n: number, c: number, seed: number) => gg.tensor(Array.from({ length: n }, (_, i) => Math.abs(seed + i * 7) % c));

  it('pass gradcheck and gradgradcheck for every reduction', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer(), fc.constantFrom('mean', 'sum', 'none'), (n, c, seed, reduction) => {
      const logits = leaf([n, c], seed, undefined, 'logits');
      const target = targetsFor(n, c, seed);
      const ce = (t: Tensor) => gg.crossEntropy(t, target, { reduction });
      expect(ce).toPassGradcheck([logits]);
      expect(ce).toPassGradgradcheck([logits]);
      const nll = (t: Tensor) => gg.nllLoss(t, target, { reduction });
      expect(nll).toPassGradgradcheck([logits]);
    }), runs);
  });

  it('is −log softmax at the target, averaged over the batch', () => {
    const logits = gg.tensor([[1, 2, 3], [1, 1, 1]]);
    const target = gg.tensor([2, 0]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const expected = [lse - 3, Math.log(3)];
    const none = gg.crossEntropy(logits, target, { reduction: 'none' }).data;
    expected.forEach((v, i) => expect(none[i]).toBeCloseTo(v, 15));
    expect(gg.crossEntropy(logits, target).item()).toBeCloseTo((expected[0] + expected[1]) / 2, 15);
    expect(gg.crossEntropy(logits, target, { reduction: 'sum' }).item()).toBeCloseTo(expected[0] + expected[1], 15);
    expect(gg.nllLoss(gg.logSoftmax(logits, 1), target).item()).toBe(gg.crossEntropy(logits, target).item());
  });

  it('takes [N, C, d] logits with [N, d] targets, as PyTorch does', () => {
    const logits = leaf([2, 3, 2], 4, undefined, 'logits');
    const target = gg.tensor([[0, 2], [1, 1]]);
    expect(gg.crossEntropy(logits, target, { reduction: 'none' }).shape).toEqual([2, 2]);
    expect((t: Tensor) => gg.crossEntropy(t, target)).toPassGradgradcheck([logits]);
  });

  it('names what is wrong with the target or the options', () => {
    const logits = gg.zeros([2, 3]);
    expect(() => gg.crossEntropy(logits, gg.tensor([0, 3]))).toThrow('crossEntropy: target[1] is 3, but logits has 3 classes (class indices from 0 to 2)');
    expect(() => gg.crossEntropy(logits, gg.tensor([0.5, 1]))).toThrow('crossEntropy: target[0] is 0.5');
    expect(() => gg.crossEntropy(logits, gg.tensor([[0, 1]]))).toThrow('crossEntropy: needs target of shape [2], got logits of shape [2, 3] and target of shape [1, 2]');
    expect(() => gg.nllLoss(gg.zeros([3]), gg.tensor([0]))).toThrow('nllLoss: needs logProbs of shape [N, C] and target of shape [N], got logProbs of shape [3] and target of shape [1]');
    expect(() => gg.crossEntropy(logits, gg.tensor([0, 1]), { reductions: 'sum' } as never)).toThrow("crossEntropy: unknown option 'reductions'; did you mean 'reduction'?");
    expect(() => gg.crossEntropy(logits, gg.tensor([0, 1]), { reduction: 'avg' as never })).toThrow("crossEntropy: reduction must be one of 'mean', 'sum', 'none', got the string 'avg'");
  });
});
