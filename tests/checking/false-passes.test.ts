import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchNorm, BatchNorm1d, batchNormFused, defineOp, grad, gradcheck, gradgradcheck, Linear, mseLoss, randn, ReLU, Sequential, Tensor, tensor } from 'gradgraph';
import { nearConstantChannel } from '../fixtures/near-constant-channel.js';

/* Each false pass of issue #8, as a new user met it: every one of these passed before. */

/** x³ with its derivative scaled by `factor` on element `wrongAt` only. */
function cubeWrongAt(wrongAt: number, factor: number) {
  return defineOp({
    name: 'cube',
    inputNames: ['x'],
    // One kernel, not two muls: the full check of 16,384 elements calls it 65,536 times.
    forward: (t) => new Tensor(t.data.map((v) => v * v * v), t.shape),
    backward: ({ inputs: [t] }, g) => {
      const scale = new Float64Array(t.size).fill(1);
      scale[wrongAt] = factor;
      return [g.mul(t.square()).mul(3).mul(tensor(scale, { shape: t.shape }))];
    },
  });
}

/** Standard normal values pushed away from 0, where a wrong scale on a zero derivative is invisible. */
function awayFromZero(shape: number[], seed: number): Tensor {
  const x = randn(shape, { seed, requiresGrad: true, name: 'x' });
  x.data.forEach((v, i) => (x.data[i] = Math.sign(v || 1) * (Math.abs(v) + 0.5)));
  return x;
}

describe('a gradient off by 1e-3 (relative) in one element', () => {
  it.each([false, true])('fails among 1,024 elements (fastMode: %s), and names the element', (fastMode) => {
    const x = awayFromZero([32, 32], 3);
    const wrongAt = 517;
    const report = gradcheck(cubeWrongAt(wrongAt, 1 + 1e-3), [x], { fastMode });
    expect(report.passed, report.message).toBe(false);
    const [input] = report.inputs;
    expect(input.status).toBe('fail');
    expect(input.failing).toBe(1);
    expect(input.total).toBe(1024);
    expect(input.worst?.inputIndex).toEqual([16, 5]);
    expect(input.maxRelError).toBeCloseTo(1e-3, 6);
    // The same op with its derivative right passes, in the same mode.
    expect(gradcheck(cubeWrongAt(wrongAt, 1), [x], { fastMode }).passed).toBe(true);
  });

  it.each([false, true])('fails among 16,384 elements (fastMode: %s)', (fastMode) => {
    // Σx³ in one op and one loop: the full check calls it 4 × 16,384 times.
    const sumOfCubesWrongAt = (wrongAt: number, factor: number) => defineOp({
      name: 'sumOfCubes',
      forward: (t) => {
        const data = t.data;
        let total = 0;
        for (let i = 0; i < data.length; i++) total += data[i] * data[i] * data[i];
        return new Tensor(Float64Array.of(total), []);
      },
      backward: ({ inputs: [t] }, g) => {
        const scale = new Float64Array(t.size).fill(1);
        scale[wrongAt] = factor;
        return [g.mul(t.square()).mul(3).mul(tensor(scale, { shape: t.shape }))];
      },
    });
    const x = awayFromZero([16384], 4);
    const wrongAt = 12345;
    const report = gradcheck(sumOfCubesWrongAt(wrongAt, 1 - 1e-3), [x], { fastMode });
    expect(report.passed, report.message).toBe(false);
    expect(report.inputs[0].failing).toBe(1);
    expect(report.inputs[0].worst?.inputIndex).toEqual([wrongAt]);
    // The correct op passes (in full mode the 1,024-element case shows it, at a quarter of the cost).
    if (fastMode) expect(gradcheck(sumOfCubesWrongAt(wrongAt, 1), [x], { fastMode }).passed).toBe(true);
  }, 300_000); // about 3 s alone; a loaded machine can take many times that
});

describe('a closure over a module\'s parameters', () => {
  function mlp() {
    const net = new Sequential([new Linear(3, 4, { seed: 1 }), new BatchNorm1d(4), new ReLU(), new Linear(4, 2, { seed: 2 })]);
    return { net, x: randn([5, 3], { seed: 3 }), target: randn([5, 2], { seed: 4 }) };
  }

  it('checks the parameters themselves: their gradients are nonzero and a wrong op inside fails', () => {
    const { net, x, target } = mlp();
    const report = gradcheck(() => mseLoss(net.call(x), target), net.parameters());
    expect(report.passed, report.message).toBe(true);
    // Every parameter is read by the closure: checked, not unused, with a gradient that is not zero.
    for (const input of report.inputs) expect(input.status).toBe('pass');
    for (const g of grad(mseLoss(net.call(x), target), net.parameters())) expect(g.data.some((v) => v !== 0)).toBe(true);
    const wrong = cubeWrongAt(3, 1.5);
    const broken = gradcheck(() => mseLoss(wrong(net.call(x)), target), net.parameters());
    expect(broken.passed).toBe(false);
    expect(broken.inputs.filter((r) => r.status === 'fail').length).toBeGreaterThan(0);
  });

  it('leaves no trace: parameter values, their .grad, BatchNorm\'s running statistics', () => {
    const { net, x, target } = mlp();
    const bn = net.children()[1] as BatchNorm1d;
    const loss = () => mseLoss(net.call(x), target);
    loss().backward();
    const before = net.parameters().map((p) => ({ data: [...p.data], grad: p.grad }));
    const stats = [[...bn.runningMean.data], [...bn.runningVar.data]];
    for (const check of [gradcheck, gradgradcheck]) {
      check(loss, net.parameters());
      check(loss, net.parameters(), { fastMode: true });
    }
    net.parameters().forEach((p, i) => {
      expect([...p.data]).toEqual(before[i].data);
      expect(p.grad).toBe(before[i].grad);
    });
    expect([[...bn.runningMean.data], [...bn.runningVar.data]]).toEqual(stats);
  });

  it('restores the inputs and the running statistics when the function throws', () => {
    const { net, x } = mlp();
    const bn = net.children()[1] as BatchNorm1d;
    const before = net.parameters().map((p) => [...p.data]);
    const stats = [...bn.runningMean.data];
    let calls = 0;
    const failing = () => {
      const out = net.call(x).sum();
      if (++calls === 3) throw new Error('the third call fails');
      return out;
    };
    expect(() => gradcheck(failing, net.parameters())).toThrow('the third call fails');
    expect(net.parameters().map((p) => [...p.data])).toEqual(before);
    expect([...bn.runningMean.data]).toEqual(stats);
  });
});

describe('an input the outputs do not depend on', () => {
  const a = randn([3], { seed: 1, requiresGrad: true, name: 'a' });
  const b = randn([2], { seed: 2, requiresGrad: true, name: 'b' });

  it('is reported as unused and fails, unless allowUnused', () => {
    const report = gradcheck((p: Tensor) => p.exp(), [a, b]);
    expect(report.passed).toBe(false);
    expect(report.inputs.map((r) => r.status)).toEqual(['pass', 'unused']);
    expect(report.message).toMatch(/b\s+\[2\].*unused/i);
    expect(report.message).toMatch(/allowUnused: true/);
    expect(gradcheck((p: Tensor) => p.exp(), [a, b], { allowUnused: true }).passed).toBe(true);
  });

  it('makes the check fail when no input is used at all, even with allowUnused', () => {
    const constant = tensor([1, 2]);
    for (const fastMode of [false, true]) {
      const report = gradcheck(() => constant.mul(2), [a, b], { allowUnused: true, fastMode });
      expect(report.passed).toBe(false);
      expect(report.message).toMatch(/No input is used/);
    }
  });

  it('is not an input whose gradient is zero where it stands (a relu below 0)', () => {
    const x = tensor([-1, -2], { requiresGrad: true, name: 'x' });
    const report = gradcheck((t: Tensor) => t.relu(), [x]);
    expect(report.passed, report.message).toBe(true);
    expect(report.inputs[0].status).toBe('pass');
  });
});

describe('a failure names the op that is wrong', () => {
  it('leads with the culprit: a wrong defineOp after the BN graph, and inside a module', () => {
    const x = randn([6, 4], { seed: 1, requiresGrad: true, name: 'x' });
    const gamma = randn([4], { seed: 2, requiresGrad: true, name: 'gamma' });
    const beta = randn([4], { seed: 3, requiresGrad: true, name: 'beta' });
    const wrong = cubeWrongAt(13, 1 + 1e-3);
    for (const fastMode of [false, true]) {
      const report = gradcheck((a: Tensor, g: Tensor, b: Tensor) => wrong(batchNorm(a, g, b)), [x, gamma, beta], { fastMode });
      expect(report.passed).toBe(false);
      expect(report.culprits.map((c) => [c.opName, c.inputName, c.worst?.inputIndex])).toEqual([['cube', 'x', [3, 1]]]);
      expect(report.message).toMatch(/^the gradient of op 'cube' with respect to its input x is wrong at x\[3, 1\]/);
    }
    const net = new Sequential([new Linear(3, 4, { seed: 1 }), new BatchNorm1d(4)], { name: 'net' });
    const input = randn([5, 3], { seed: 4 });
    const inModule = gradcheck(() => wrong(net.call(input)).sum(), net.parameters());
    expect(inModule.culprits[0]).toMatchObject({ opName: 'cube', inputName: 'x' });
    expect(gradcheck(() => net.call(input).sum(), net.parameters()).culprits).toEqual([]);
  });

  it('names the op at a kink', () => {
    const report = gradcheck((t: Tensor) => t.relu().sum(), [tensor([0, 1, 2], { requiresGrad: true, name: 'x' })]);
    expect(report.kinkOps.map((c) => c.opName)).toEqual(['relu']);
    expect(report.message).toMatch(/At a kink: op 'relu'/);
  });
});

describe('an ill-conditioned input, whose rounding bound is large', () => {
  it('still fails a second derivative off by 1e-7 (BN of a near-constant channel, then x³)', () => {
    // Channel 0 is 2.46042, 2.46055, 2.41901 (σ ≈ 0.02): the rounding bound of each output,
    // ε·Σ|J_ik|·|x_k|, is some 800 times that of a well-conditioned one (see batchnorm-properties).
    const { x, gamma, beta } = nearConstantChannel();
    // x³ whose backward is right, made of a square whose own backward is off by 1e-7.
    const square = defineOp({ name: 'square', inputNames: ['t'], forward: (t) => new Tensor(t.data.map((v) => v * v), t.shape), backward: ({ inputs: [t] }, g) => [g.mul(t).mul(2 * (1 + 1e-7))] });
    const cube = defineOp({ name: 'cube', inputNames: ['t'], forward: (t) => new Tensor(t.data.map((v) => v * v * v), t.shape), backward: ({ inputs: [t] }, g) => [g.mul(square(t)).mul(3)] });
    const report = gradgradcheck((a: Tensor, g: Tensor, b: Tensor) => cube(batchNormFused(a, g, b)), [x, gamma, beta]);
    expect(report.passed).toBe(false);
    expect(report.inputs[0].status).toBe('fail');
    expect(report.inputs[0].maxRelError).toBeCloseTo(1e-7, 8);
  });
});

describe('a wrong gradient next to a kink', () => {
  // relu(x)·(1 + x): a kink at 0, and a derivative 1 + 2x just right of it, here off by 1e-6.
  const kinkedWrong = (error: number) => defineOp({
    name: 'kinked',
    forward: (t) => new Tensor(t.data.map((v) => (v > 0 ? v * (1 + v) : 0)), t.shape),
    backward: ({ inputs: [t] }, g) => [g.mul(tensor(t.data.map((v) => (v > 0 ? 1 + 2 * v + error : 0)), { shape: t.shape }))],
  });
  const h = 2 ** -17;

  it.each([false, true])('fails with the kink 1.9 steps away, where it was taken for a pole (fastMode: %s)', (fastMode) => {
    // Before: the slopes at h, 2h and 4h happened to grow as h³ there, which passed with a tolerance of 5%.
    const x = tensor([1.9 * h, 1.5 * h, 3.3 * h, 0.5], { requiresGrad: true });
    expect(gradcheck(kinkedWrong(1e-6), [x], { fastMode }).passed).toBe(false);
    const right = gradcheck(kinkedWrong(0), [x], { fastMode });
    expect(right.passed, right.message).toBe(true);
  });
});

describe('fast mode and an error that is the same everywhere', () => {
  // 2x whose gradient says 2 + error: along a direction of ±1 weights the errors cancel when the
  // signs balance, half the time over two elements.
  const twiceOff = (error: number) => defineOp({ name: 'twiceOff', forward: (t) => t.mul(2), backward: (_, g) => [g.mul(2 + error)] });

  it('fails for every seed and size (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 2 ** 31 }), (n, seed) => {
      const x = randn([n], { seed, requiresGrad: true });
      expect(gradcheck(twiceOff(1e-4), [x], { fastMode: true, seed }).passed).toBe(false);
      expect(gradcheck(twiceOff(0), [x], { fastMode: true, seed }).passed).toBe(true);
    }), { numRuns: 200 });
  });
});
