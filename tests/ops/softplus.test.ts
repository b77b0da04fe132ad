import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { randn, softplus, tensor, type Tensor } from 'gradgraph';

describe('softplus', () => {
  it('is log(1 + eˣ), without overflow or lost digits at the extremes', () => {
    const values = softplus(tensor([-2, 0, 3, 800, -800, -40])).data;
    expect(values[0]).toBeCloseTo(Math.log(1 + Math.exp(-2)), 15);
    expect(values[1]).toBeCloseTo(Math.LN2, 15);
    expect(values[2]).toBeCloseTo(Math.log(1 + Math.exp(3)), 14);
    expect(values[3]).toBe(800);
    expect(values[4]).toBe(0);
    expect(values[5] / Math.exp(-40)).toBeCloseTo(1, 12);
  });

  it('has derivative sigmoid(x), checked to second order', () => {
    const x = randn([5], { seed: 3, requiresGrad: true, name: 'x' });
    expect((t: Tensor) => softplus(t)).toPassGradcheck([x]);
    expect((t: Tensor) => softplus(t)).toPassGradgradcheck([x]);
  });
});
