import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { defineOp, randn } from 'gradgraph';

describe('toPassGradcheck', () => {
  it('passes for a correct gradient and reports the table for a wrong one', () => {
    const x = randn([3, 2], { seed: 4, requiresGrad: true, name: 'x' });
    expect((t: typeof x) => t.tanh().mul(t).sum()).toPassGradcheck([x]);
    expect((t: typeof x) => t.square().exp().sum()).toPassGradgradcheck([x]);

    const wrongCube = defineOp({
      name: 'wrongCube',
      forward: (t) => t.mul(t).mul(t),
      backward: ({ inputs: [t] }, g) => [g.mul(t.square()).mul(2)], // should be 3
    });
    expect((t: typeof x) => wrongCube(t)).not.toPassGradcheck([x]);
    let message = '';
    try {
      expect((t: typeof x) => wrongCube(t)).toPassGradcheck([x]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/gradcheck FAILED/);
    expect(message).toMatch(/x\s+\[3, 2\].*FAIL.*w\.r\.t\. x\[/);
  });
});
