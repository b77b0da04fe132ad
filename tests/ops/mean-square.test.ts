import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { meanSquare, randn, tensor, type Tensor } from 'gradgraph';

describe('meanSquare', () => {
  it('is the mean of the squares over the given axes', () => {
    const x = tensor([[1, -2], [3, 4], [-5, 0]]);
    expect(meanSquare(x, 0).toArray()).toEqual([(1 + 9 + 25) / 3, (4 + 16 + 0) / 3]);
    expect(meanSquare(x, 1, { keepdims: true }).toArray()).toEqual([[2.5], [12.5], [12.5]]);
    expect(meanSquare(x).item()).toBeCloseTo(55 / 6, 14);
  });

  it('is one node, labelled mean(x²)', () => {
    const x = randn([3, 2], { seed: 1, requiresGrad: true });
    const node = meanSquare(x, 0).node;
    expect(node?.op.name).toBe('meanSquare');
    expect(node?.label).toBe('mean(x²)');
    expect(node?.inputs).toEqual([x]);
  });

  it('has first and second derivatives that pass the numerical checks', () => {
    const x = randn([4, 2, 3], { seed: 2, requiresGrad: true, name: 'x' });
    const f = (t: Tensor) => meanSquare(t, [0, 2], { keepdims: true });
    expect(f).toPassGradcheck([x]);
    expect(f).toPassGradgradcheck([x]);
  });
});
