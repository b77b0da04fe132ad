import { describe, expect, it } from 'vitest';
import { Adam, SGD, tensor } from 'gradgraph';

function parameter(values: number[], grad: number[]) {
  const p = tensor(values, { isParameter: true, name: 'p' });
  p.grad = tensor(grad);
  return p;
}

describe('SGD', () => {
  it('moves each parameter by −lr·g', () => {
    const p = parameter([1, -2], [0.5, -4]);
    new SGD([p], { lr: 0.1 }).step();
    expect([...p.data]).toEqual([1 - 0.05, -2 + 0.4]);
  });

  it('accumulates velocity with momentum, PyTorch style (v = μv + g, p −= lr·v), and weight decay', () => {
    const p = parameter([1], [2]);
    const sgd = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    sgd.step(); // g = 2 + 0.5·1 = 2.5, v = 2.5, p = 0.75
    expect(p.data[0]).toBeCloseTo(0.75, 15);
    sgd.step(); // g = 2 + 0.5·0.75 = 2.375, v = 0.9·2.5 + 2.375 = 4.625, p = 0.75 − 0.4625
    expect(p.data[0]).toBeCloseTo(0.2875, 15);
  });

  it('skips parameters without a gradient; zeroGrad clears them', () => {
    const p = parameter([1], [1]);
    const q = tensor([3], { isParameter: true });
    const sgd = new SGD([p, q], { lr: 1 });
    sgd.step();
    expect([p.data[0], q.data[0]]).toEqual([0, 3]);
    sgd.zeroGrad();
    expect(p.grad).toBeNull();
  });

  it('checks its arguments', () => {
    expect(() => new SGD([tensor([1])], { lr: 0.1 })).toThrow(/SGD: parameter 0 does not require grad/);
    expect(() => new SGD([tensor([1], { isParameter: true })], { lr: 0 })).toThrow(/SGD: lr must be a finite number > 0, got 0/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/non-empty array of parameters/);
  });

  it('refuses hyperparameters that would make the parameters NaN, and non-leaf tensors', () => {
    const p = () => tensor([1], { isParameter: true, name: 'p' });
    expect(() => new SGD([p()], { lr: 0.1, momentum: NaN })).toThrow('SGD: momentum must be a finite number >= 0, got NaN');
    expect(() => new SGD([p()], { lr: 0.1, momentum: -0.5 })).toThrow('SGD: momentum must be a finite number >= 0, got -0.5');
    expect(() => new SGD([p()], { lr: 0.1, weightDecay: Infinity })).toThrow('SGD: weightDecay must be a finite number >= 0, got Infinity');
    // PyTorch: "can't optimize a non-leaf Tensor"; its update would be lost at the next forward.
    const hidden = p().mul(2);
    hidden.name = 'h';
    expect(() => new SGD([hidden], { lr: 0.1 })).toThrow("SGD: parameter 0 (h) is not a leaf: op 'mul' computed it");
    expect(() => new Adam([p(), p().add(1)])).toThrow("Adam: parameter 1 is not a leaf: op 'add' computed it");
  });
});

describe('Adam', () => {
  it('matches the algorithm written out step by step (bias-corrected moments)', () => {
    const p = tensor([1, -1], { isParameter: true });
    const lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    const adam = new Adam([p], { lr });
    const expected = [1, -1];
    const m = [0, 0], v = [0, 0];
    const grads = [[0.3, -2], [0.1, 1], [-0.5, 0.25]];
    grads.forEach((g, step) => {
      p.grad = tensor(g);
      adam.step();
      for (let i = 0; i < 2; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2;
        const mHat = m[i] / (1 - beta1 ** (step + 1));
        const vHat = v[i] / (1 - beta2 ** (step + 1));
        expected[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
      expect(p.data[0]).toBeCloseTo(expected[0], 14);
      expect(p.data[1]).toBeCloseTo(expected[1], 14);
    });
  });

  it('refuses betas outside [0, 1) and a negative eps, which make the parameters NaN', () => {
    const p = tensor([1], { isParameter: true });
    expect(() => new Adam([p], { betas: [1, 1] })).toThrow('Adam: betas[0] must be in [0, 1), got 1');
    expect(() => new Adam([p], { betas: [0.9, NaN] })).toThrow('Adam: betas[1] must be in [0, 1), got NaN');
    expect(() => new Adam([p], { betas: [0.9] as never })).toThrow('Adam: betas must be an array of two numbers, got [0.9]');
    expect(() => new Adam([p], { eps: -1 })).toThrow('Adam: eps must be a finite number >= 0, got -1');
    expect(() => new Adam([p], { weightDecay: NaN })).toThrow('Adam: weightDecay must be a finite number >= 0, got NaN');
    // What [1, 1] did: 0/0 in the bias correction.
    const adam = new Adam([p], { betas: [0.9, 0.999], eps: 0 });
    p.grad = tensor([2]);
    adam.step();
    expect(p.item()).toBeCloseTo(1 - 1e-3, 12);
  });

  it('takes a first step of about lr against the sign of the gradient, whatever its size', () => {
    const p = parameter([0, 0], [1e-3, -50]);
    new Adam([p], { lr: 0.1 }).step();
    expect(p.data[0]).toBeCloseTo(-0.1, 5);
    expect(p.data[1]).toBeCloseTo(0.1, 5);
  });
});
