import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { binaryCrossEntropyWithLogits, grad, mseLoss, softplus, tensor, type Tensor } from 'gradgraph';
import { leaf, shapeArb, valuesFor } from '../helpers.js';

/** The loss as it was written before it became one node: softplus(z) − z·y, averaged. */
const composite = (z: Tensor, y: Tensor) => softplus(z).sub(z.mul(y)).mean();

describe('losses', () => {
  it('mseLoss is the mean squared difference', () => {
    expect(mseLoss(tensor([1, 2, 4]), tensor([1, 0, 1])).item()).toBeCloseTo((0 + 4 + 9) / 3, 15);
    expect(() => mseLoss(tensor([1, 2]), tensor([[1, 2]]))).toThrow(/mseLoss: the prediction has shape \[2\] but the target has shape \[1, 2\]/);
  });

  it('binaryCrossEntropyWithLogits is −mean(y·log σ(z) + (1 − y)·log(1 − σ(z)))', () => {
    const z = [-2, 0.5, 3];
    const y = [0, 1, 0.25];
    const sigma = z.map((v) => 1 / (1 + Math.exp(-v)));
    const expected = -z.reduce((s, _, i) => s + y[i] * Math.log(sigma[i]) + (1 - y[i]) * Math.log(1 - sigma[i]), 0) / 3;
    expect(binaryCrossEntropyWithLogits(tensor(z), tensor(y)).item()).toBeCloseTo(expected, 14);
  });

  it('stays finite and exact for logits far from 0, where σ rounds to 0 or 1', () => {
    // Correct label: loss ≈ e^−800 ≈ 0. Wrong label: loss = 800.
    expect(binaryCrossEntropyWithLogits(tensor([800, -800]), tensor([1, 0])).item()).toBe(0);
    expect(binaryCrossEntropyWithLogits(tensor([800, -800]), tensor([0, 1])).item()).toBe(800);
  });

  it('has gradient (σ(z) − y)/n, including at z = 0, and passes gradcheck', () => {
    const z = tensor([0, 1.5, -3], { requiresGrad: true, name: 'z' });
    const y = tensor([1, 0, 1]);
    const [dz] = grad(binaryCrossEntropyWithLogits(z, y), [z]);
    [0, 1.5, -3].forEach((v, i) => expect(dz.data[i]).toBeCloseTo((1 / (1 + Math.exp(-v)) - y.data[i]) / 3, 15));
    expect((t: Tensor) => binaryCrossEntropyWithLogits(t, y)).toPassGradcheck([z]);
    expect((t: Tensor) => binaryCrossEntropyWithLogits(t, y)).toPassGradgradcheck([z]);
  });

  it('is one node that agrees with softplus(z) − z·y averaged, in value and in both gradients, and passes gradcheck', () => {
    fc.assert(
      fc.property(shapeArb(2, 4), fc.integer(), (shape, seed) => {
        const z = leaf(shape, seed, (v) => 4 * v, 'z');
        const y = tensor(valuesFor(shape, seed + 1, (v) => (v + 2) / 4), { shape, requiresGrad: true, name: 'y' });
        const loss = binaryCrossEntropyWithLogits(z, y);
        expect(loss.node?.op.name).toBe('binaryCrossEntropyWithLogits');
        expect(loss.item()).toBeCloseTo(composite(z, y).item(), 14);
        const expected = grad(composite(z, y), [z, y]);
        grad(loss, [z, y]).forEach((g, i) => [...g.storage].forEach((v, j) => expect(v).toBeCloseTo(expected[i].storage[j], 14)));
        expect(binaryCrossEntropyWithLogits).toPassGradcheck([z, y]);
        expect(binaryCrossEntropyWithLogits).toPassGradgradcheck([z, y]);
      }),
      { numRuns: 30 },
    );
  });

  it('gives the same gradients unrecorded (loops) as recorded (tensor ops, for createGraph)', () => {
    const z = tensor([[0, 1.5], [-3, 40]], { requiresGrad: true });
    const y = tensor([[1, 0], [0.25, 1]], { requiresGrad: true });
    const fast = grad(binaryCrossEntropyWithLogits(z, y), [z, y]);
    const recorded = grad(binaryCrossEntropyWithLogits(z, y), [z, y], { createGraph: true });
    recorded.forEach((g, i) => {
      expect(g.node).not.toBeNull();
      expect(fast[i].toArray()).toEqual(g.toArray());
    });
  });
});
