import { describe, expect, it } from 'vitest';
import * as gg from 'gradgraph';
import type { Tensor } from 'gradgraph';

/*
 * The gradient at each kink, tie and edge, where no finite difference can decide: PyTorch's
 * conventions, one line each (the README's op list states them).
 */

const x = (values: number[] | number[][]) => gg.tensor(values, { requiresGrad: true, name: 'x' });
const gradOf = (f: (t: Tensor) => Tensor, t: Tensor) => gg.grad(f(t).sum(), t)[0].toArray();

describe('kinks follow PyTorch', () => {
  it('relu, leakyRelu, elu at 0 take the left slope (0, the negative slope, alpha)', () => {
    expect(gradOf((t) => t.relu(), x([0]))).toEqual([0]);
    expect(gradOf((t) => gg.leakyRelu(t), x([-1, 0, 1]))).toEqual([0.01, 0.01, 1]);
    expect(gradOf((t) => gg.leakyRelu(t, 0.2), x([0]))).toEqual([0.2]);
    expect(gradOf((t) => gg.elu(t, 0.5), x([0, 1]))).toEqual([0.5, 1]);
  });

  it("relu and abs give the same gradient unrecorded (one loop) as recorded (g × mask), at the kink, at NaN, and for infinite gradients", () => {
    const values = x([-2, -0, 0, 3, NaN, -1, 1]);
    // The gradient arriving requires grad, so the recorded product is a node.
    const gradOutput = gg.tensor([1, 2, Infinity, -Infinity, 5, NaN, Infinity], { requiresGrad: true });
    for (const f of [(t: Tensor) => t.relu(), (t: Tensor) => t.abs()]) {
      const [fast] = gg.grad(f(values), values, { gradOutputs: gradOutput });
      const [recorded] = gg.grad(f(values), values, { gradOutputs: gradOutput, createGraph: true });
      expect(recorded.node).not.toBeNull();
      expect(fast.node).toBeNull();
      expect(Object.is(fast.storage[1], recorded.storage[1])).toBe(true);
      expect(fast.toArray()).toEqual(recorded.toArray());
    }
    expect(gg.grad(values.relu(), values, { gradOutputs: gradOutput })[0].toArray()).toEqual([0, 0, NaN, -Infinity, 5, NaN, Infinity]);
  });

  it('clamp passes the gradient at its boundaries, not beyond them', () => {
    expect(gradOf((t) => t.clamp(-1, 1), x([-2, -1, 0, 1, 2]))).toEqual([0, 1, 1, 1, 0]);
    expect(gg.clamp(gg.tensor([-2, 5, NaN]), null, 1).toArray()).toEqual([-2, 1, NaN]);
    expect(gg.clamp(gg.tensor([0, 5]), 3, 2).toArray()).toEqual([2, 2]);
  });

  it('sign has gradient 0 everywhere, and abs at 0 has gradient 0', () => {
    expect(gradOf((t) => t.sign(), x([-2, 0, 3]))).toEqual([0, 0, 0]);
    expect(gg.sign(gg.tensor([-2, 0, 3, NaN])).toArray()).toEqual([-1, 0, 1, NaN]);
  });

  it('max and min split the gradient evenly between ties', () => {
    expect(gradOf((t) => t.min(), x([2, 1, 1]))).toEqual([0, 0.5, 0.5]);
    expect(gradOf((t) => t.max(1), x([[3, 3, 3, 1]]))).toEqual([[1 / 3, 1 / 3, 1 / 3, 0]]);
  });

  it('minimum and maximum split a tie in half, and pass the gradient to a NaN', () => {
    const a = x([1, 2, 3]);
    const b = gg.tensor([2, 2, 2], { requiresGrad: true });
    const [ga, gb] = gg.grad(gg.maximum(a, b).sum(), [a, b]);
    expect(ga.toArray()).toEqual([0, 0.5, 1]);
    expect(gb.toArray()).toEqual([1, 0.5, 0]);
    const [ha, hb] = gg.grad(gg.minimum(a, b).sum(), [a, b]);
    expect(ha.toArray()).toEqual([1, 0.5, 0]);
    expect(hb.toArray()).toEqual([0, 0.5, 1]);
    expect(gg.maximum(gg.tensor([NaN, 1]), gg.tensor([1, NaN])).toArray()).toEqual([NaN, NaN]);
  });

  it('argmax and argmin take the first index on ties and never require grad', () => {
    const t = x([[1, 3, 3], [2, 2, 0]]);
    expect(gg.argmax(t, 1).toArray()).toEqual([1, 0]);
    expect(gg.argmin(t, 1).toArray()).toEqual([0, 2]);
    expect(gg.argmax(t).toArray()).toBe(1);
    expect(gg.argmax(t, 0, { keepdims: true }).toArray()).toEqual([[1, 0, 0]]);
    expect(gg.argmax(t).requiresGrad).toBe(false);
    expect(gg.argmax(gg.tensor([1, NaN, 5])).item()).toBe(1);
    expect(gg.argmax(gg.tensor(3), 0).shape).toEqual([]);
    expect(gg.argmax(gg.tensor(3), -1).item()).toBe(0);
  });

  it('variance of one value is NaN (unbiased), 0 with correction 0; std of a constant has NaN gradient', () => {
    expect(gg.variance(gg.tensor([4])).item()).toBeNaN();
    expect(gg.variance(gg.tensor([4]), 0, { correction: 0 }).item()).toBe(0);
    expect(gg.variance(gg.tensor([1, 2, 3, 4])).item()).toBeCloseTo(5 / 3, 15);
    expect(gg.std(gg.tensor([[1, 3], [5, 9]]), 1, { keepdims: true }).toArray()).toEqual([[Math.SQRT2], [Math.sqrt(8)]]);
    expect(gradOf((t) => t.std(), x([2, 2]))).toEqual([NaN, NaN]);
  });

  it('logsumexp and softmax of −∞ entries', () => {
    expect(gg.logsumexp(gg.tensor([-Infinity, -Infinity])).item()).toBe(-Infinity);
    expect(gg.logsumexp(gg.tensor([-Infinity, 0])).item()).toBe(0);
    expect(gg.softmax(gg.tensor([-Infinity, 0]), 0).toArray()).toEqual([0, 1]);
    expect(gg.logsumexp(gg.tensor([1000, 1000])).item()).toBeCloseTo(1000 + Math.LN2, 12);
  });
});

describe('options and arguments are checked', () => {
  it('names the unknown option and the nearest known one', () => {
    const t = gg.zeros([2, 3]);
    expect(() => t.sum(1, { keepdim: true } as never)).toThrow("sum: unknown option 'keepdim'; did you mean 'keepdims'?");
    expect(() => t.min(1, { keepdim: true } as never)).toThrow("min: unknown option 'keepdim'; did you mean 'keepdims'?");
    expect(() => t.argmax(1, { keepDims: true } as never)).toThrow("argmax: unknown option 'keepDims'; did you mean 'keepdims'?");
    expect(() => t.variance(1, { corection: 0 } as never)).toThrow("variance: unknown option 'corection'; did you mean 'correction'?");
    expect(() => t.std(1, { unbiased: false } as never)).toThrow("std: unknown option 'unbiased'");
    expect(() => t.logsumexp(1, { keepdims: 1 } as never)).toThrow('logsumexp: keepdims must be true or false, got 1');
    expect(() => t.sum(1, 'keepdims' as never)).toThrow("sum: options must be an object, got the string 'keepdims'");
  });

  it('names the argument and what it got', () => {
    const t = gg.zeros([2, 3]);
    expect(() => gg.leakyRelu(t, '0.1' as never)).toThrow("leakyRelu: negativeSlope must be a finite number, got the string '0.1'");
    expect(() => gg.elu(t, NaN)).toThrow('elu: alpha must be a finite number, got NaN');
    expect(() => gg.clamp(t, null, null)).toThrow('clamp: at least one of min and max must be a number, got null for both');
    expect(() => gg.clamp(t, '1' as never)).toThrow("clamp: min must be a number or null, got the string '1'");
    expect(() => gg.where(gg.tensor([0.5]), t, 1)).toThrow('where: condition must hold only 0 and 1, got 0.5 at [0]');
    expect(() => gg.where(gg.tensor([1, 0]), t, 1)).toThrow('where: cannot broadcast condition of shape [2] with a of shape [2, 3]');
    expect(() => gg.variance(t, 0, { correction: -1 })).toThrow('variance: correction must be a finite number >= 0, got -1');
    expect(() => gg.argmax(t, 2)).toThrow('argmax: axis 2 is out of range for a tensor with 2 dimension(s) (valid: -2 to 1)');
  });

  it('where picks, broadcasting all three', () => {
    expect(gg.where(gg.tensor([[1], [0]]), gg.tensor([1, 2]), 9).toArray()).toEqual([[1, 2], [9, 9]]);
    expect(gg.tensor([1, 2]).where(gg.tensor([0, 1]), 7).toArray()).toEqual([7, 2]);
  });
});
