import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineOp, emptyPool, grad, gradcheck, gradgradcheck, max, pooledMemoryBytes, randn, tensor, type Tensor } from 'gradgraph';

/** x^3 with its derivative scaled by `factor` on element `wrongAt` only (factor 1: correct). */
function cubeWithWrongElement(wrongAt: number, factor: number) {
  return defineOp({
    name: 'cube',
    forward: (t) => t.mul(t).mul(t),
    backward: ({ inputs: [t] }, g) => {
      const scale = new Float64Array(t.size).fill(1);
      scale[wrongAt] = factor;
      return [g.mul(t.square()).mul(3).mul(tensor(scale, { shape: t.shape }))];
    },
  });
}

describe('gradcheck', () => {
  it('passes a correct custom op and fails a wrong one, reporting its worst element', () => {
    const x = randn([2, 3], { seed: 5, requiresGrad: true, name: 'x' });
    expect(gradcheck(cubeWithWrongElement(0, 1), [x]).passed).toBe(true);

    const report = gradcheck(cubeWithWrongElement(4, 1.5), [x]);
    expect(report.passed).toBe(false);
    const [input] = report.inputs;
    expect(input.name).toBe('x');
    expect(input.worst?.inputIndex).toEqual([1, 1]);
    expect(input.worst?.outputIndex).toEqual([1, 1]);
    const expected = 3 * x.data[4] ** 2;
    expect(input.worst?.numeric).toBeCloseTo(expected, 6);
    expect(input.worst?.analytic).toBeCloseTo(1.5 * expected, 12);
    expect(input.maxAbsError).toBeCloseTo(0.5 * expected, 6);
    expect(report.message).toMatch(/gradcheck FAILED \(full mode/);
    expect(report.message).toMatch(/x\s+\[2, 3\].*FAIL\s+output 0\[1, 1\] w\.r\.t\. x\[1, 1\]: analytic/);
    expect(String(report)).toBe(report.message);
  });

  it('throws the report with raiseOnFailure', () => {
    const x = randn([3], { seed: 1, requiresGrad: true, name: 'x' });
    expect(() => gradcheck(cubeWithWrongElement(2, 2), [x], { raiseOnFailure: true })).toThrow(/gradcheck FAILED[\s\S]*w\.r\.t\. x\[2\]/);
  });

  it('fast mode catches the same wrong gradients and locates the element', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 11 }), fc.double({ min: 1.2, max: 3, noNaN: true }), fc.integer(), (wrongAt, factor, seed) => {
        const x = randn([3, 4], { seed, requiresGrad: true, name: 'x' });
        // Keep x away from 0, where a wrong scale on a zero derivative is invisible.
        x.data.forEach((v, i) => (x.data[i] = Math.sign(v || 1) * (Math.abs(v) + 0.5)));
        const wrong = cubeWithWrongElement(wrongAt, factor);
        const full = gradcheck(wrong, [x]);
        const fast = gradcheck(wrong, [x], { fastMode: true, seed });
        expect(full.passed).toBe(false);
        expect(fast.passed).toBe(false);
        expect(fast.mode).toBe('fast');
        expect(fast.inputs[0].worst?.inputIndex).toEqual(full.inputs[0].worst?.inputIndex);
        expect(gradcheck(cubeWithWrongElement(0, 1), [x], { fastMode: true, seed }).passed).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('checks every output of a function returning several, and only inputs that require grad', () => {
    const a = randn([2], { seed: 2, requiresGrad: true, name: 'a' });
    const b = randn([2], { seed: 3, name: 'b' });
    const report = gradcheck((p: Tensor, q: Tensor) => [p.mul(q), p.exp().sum()], [a, b]);
    expect(report.passed).toBe(true);
    expect(report.inputs.map((r) => r.name)).toEqual(['a']);
  });

  it('passes outputs whose gradients are the upstream gradient itself, and an output that another is made from', () => {
    // reshape and identity hand the seed straight back; y feeds z, so y's gradient is a sum.
    const x = randn([2, 3], { seed: 4, requiresGrad: true, name: 'x' });
    const report = gradcheck((t: Tensor) => {
      const y = t.reshape([6]);
      return [t, y, y.mul(y).sum()];
    }, [x]);
    expect(report.passed, report.message).toBe(true);
    expect(report.inputs[0].maxAbsError).toBeLessThan(1e-8);
  });

  it('leaves the caller\'s tensors and their .grad untouched', () => {
    const x = randn([3], { seed: 9, requiresGrad: true });
    const before = [...x.data];
    gradcheck((t: Tensor) => t.tanh(), [x]);
    expect([...x.data]).toEqual(before);
    expect(x.grad).toBeNull();
  });

  it('gives each call\'s buffers back for the next (tidy), keeping what the function did not make', () => {
    const x = randn([64, 64], { seed: 10, requiresGrad: true });
    const scale = randn([64, 64], { seed: 11 });
    let madeInside: Tensor | null = null;
    emptyPool();
    const report = gradcheck((t: Tensor) => {
      madeInside = t.mul(scale);
      return madeInside.sum(1);
    }, [x], { fastMode: true });
    expect(report.passed).toBe(true);
    // Its calls' 64×64 results went back to be reused, not to the collector.
    expect(pooledMemoryBytes()).toBeGreaterThan(0);
    // What the function made is released (reading it says so); what it closed over is not.
    expect(() => madeInside!.data).toThrow('was released when the tidy() that made it ended');
    expect(scale.data[0]).toBe(randn([64, 64], { seed: 11 }).data[0]);
  });

  it('gives back nothing of an input that the function returns a view of', () => {
    const x = randn([64, 64], { seed: 12, requiresGrad: true });
    const before = Float64Array.from(x.storage);
    emptyPool();
    expect(gradcheck((t: Tensor) => t.reshape([4096]), [x], { fastMode: true }).passed).toBe(true);
    expect(gradcheck((t: Tensor) => t.reshape([64, 64]).transpose(), [x], { fastMode: true }).passed).toBe(true);
    expect(gradgradcheck((t: Tensor) => t.reshape([4096]).mul(t.reshape([4096])).sum(), [x], { fastMode: true }).passed).toBe(true);
    // x's buffer was not released with the views: results made now land elsewhere, and x is as it was.
    const made = Array.from({ length: 8 }, (_, k) => randn([64, 64], { seed: 20 + k })).flatMap((t) => [t, t.mul(3)]);
    expect(made.some((t) => t.storage.buffer === x.storage.buffer && t.storage.byteOffset === x.storage.byteOffset)).toBe(false);
    expect(x.storage.every((v, i) => Object.is(v, before[i]))).toBe(true);
  });

  it('reports NaN gradients as failures', () => {
    const x = tensor([0, 1], { requiresGrad: true, name: 'x' });
    const report = gradcheck((t: Tensor) => t.sqrt(), [x]);
    expect(report.passed).toBe(false);
    expect(report.inputs[0].maxAbsError).toBe(Infinity);
  });

  it('rejects bad options and inputs, naming them', () => {
    const x = randn([2], { seed: 1, requiresGrad: true });
    const f = (t: Tensor) => t.exp();
    expect(() => gradcheck(f, [x], { eps: 0 })).toThrow('gradcheck: eps must be a finite number > 0, got 0');
    expect(() => gradcheck(f, [x], { eps: NaN })).toThrow(/eps must be a finite number > 0, got NaN/);
    expect(() => gradcheck(f, [x], { atol: -1 })).toThrow(/atol must be a finite number >= 0/);
    expect(() => gradcheck(f, [x], { rtol: Infinity })).toThrow(/rtol must be a finite number >= 0/);
    expect(() => gradcheck(f, [])).toThrow(/inputs must be a non-empty array of Tensors/);
    expect(() => gradcheck(f, [randn([2], { seed: 1 })])).toThrow(/no input has requiresGrad: true/);
    expect(() => gradcheck(f, [[1, 2] as never])).toThrow(/input 0 must be a Tensor/);
    expect(() => gradcheck((() => 3) as never, [x])).toThrow(/must return a Tensor or an array of Tensors/);
    expect(() => gradgradcheck(f, [x], { eps: -1 })).toThrow(/gradgradcheck: eps must be/);
  });
});

describe('gradgradcheck', () => {
  it('catches a first derivative that is right but not differentiable correctly', () => {
    // The backward uses a constant copy of t, so its own derivative is lost.
    const frozen = defineOp({
      name: 'frozenCube',
      forward: (t) => t.mul(t).mul(t),
      backward: ({ inputs: [t] }, g) => [g.mul(t.detach().square()).mul(3)],
    });
    const x = randn([3], { seed: 4, requiresGrad: true, name: 'x' });
    expect(gradcheck(frozen, [x]).passed).toBe(true);
    const report = gradgradcheck(frozen, [x]);
    expect(report.passed).toBe(false);
    expect(report.message).toMatch(/^gradgradcheck FAILED/);
  });
});

describe('gradgradcheck and unused inputs', () => {
  it('passes a constant first derivative (sign), but not a function that uses no input', () => {
    const x = tensor([-2, 3], { requiresGrad: true, name: 'x' });
    const report = gradgradcheck((t: Tensor) => t.sign(), [x]);
    expect(report.passed, report.message).toBe(true);
    expect(report.message).toMatch(/it is constant/);
    const constant = tensor([1, 2]);
    expect(gradgradcheck(() => constant.exp(), [x]).passed).toBe(false);
  });
});

describe('gradcheck asks for every input at once', () => {
  it('catches a gradient that is wrong only when several inputs are differentiated together', () => {
    // A stand-in for gradients leaking between inputs: right alone, wrong in company.
    const leaky = defineOp({
      name: 'leakyAdd',
      forward: (a, b) => a.add(b),
      backward: ({ needsInputGrad }, g) => (needsInputGrad.every(Boolean) ? [g, g.mul(2)] : [g, g]),
    });
    const a = randn([3], { seed: 1, requiresGrad: true, name: 'a' });
    const b = randn([3], { seed: 2, requiresGrad: true, name: 'b' });
    const report = gradcheck(leaky, [a, b]);
    expect(report.passed).toBe(false);
    expect(report.inputs.find((r) => r.name === 'b')?.passed).toBe(false);
    expect(gradcheck(leaky, [a, b], { fastMode: true }).passed).toBe(false);
  });
});

describe('kinks', () => {
  it('are reported apart from wrong gradients: which element, the slopes on either side', () => {
    // relu at 0 and within a step of 0, abs at 0, a tie in max.
    // Fast mode sees a kink only if its random direction crosses it: moving both tied elements of
    // max by the same amount keeps the tie, and max is smooth along that direction.
    const cases: [string, (t: Tensor) => Tensor, number[], number[], boolean[]][] = [
      ['relu', (t) => t.relu(), [-0.5, 0, 1, 3e-6], [1, 3], [false, true]],
      ['abs', (t) => t.abs(), [2, 0], [1], [false, true]],
      ['max', (t) => max(t), [1, 0, 1], [0, 2], [false]],
    ];
    for (const [name, f, values, kinkAt, modes] of cases) {
      for (const fastMode of modes) {
        const report = gradcheck(f, [tensor(values, { requiresGrad: true, name: 'x' })], { fastMode });
        expect(report.passed, `${name}\n${report.message}`).toBe(false);
        const [input] = report.inputs;
        expect(input.status).toBe('kink');
        expect(input.failing).toBe(0);
        expect(input.kinks).toBe(kinkAt.length);
        expect(kinkAt).toContainEqual(input.kink?.inputIndex[0]);
        expect(report.message).toMatch(/sit on or within a step of a kink/);
      }
    }
    const relu = gradcheck((t: Tensor) => t.relu(), [tensor([-0.5, 0, 1], { requiresGrad: true, name: 'x' })]);
    expect(relu.inputs[0].kink).toMatchObject({ inputIndex: [1], fromLeft: 0, fromRight: 1, analytic: 0 });
  });

  it('do not hide a wrong gradient elsewhere in the same input', () => {
    const x = tensor([0, 1, 2], { requiresGrad: true, name: 'x' });
    const report = gradcheck((t: Tensor) => t.relu().add(cubeWithWrongElement(2, 1.01)(t)), [x]);
    expect(report.inputs[0].status).toBe('fail');
    expect(report.inputs[0].failing).toBe(1);
    expect(report.inputs[0].kinks).toBe(1);
    expect(report.inputs[0].worst?.inputIndex).toEqual([2]);
  });
});

describe('the first stage (three evaluations per element, the full six only where it cannot decide)', () => {
  it('still fails a gradient wrong by 1e-7 (relative) in one element of 64', () => {
    const x = randn([8, 8], { seed: 11, requiresGrad: true, name: 'x' });
    x.data.forEach((v, i) => (x.data[i] = v + Math.sign(v || 1)));
    const report = gradcheck(cubeWithWrongElement(37, 1 + 1e-7), [x]);
    expect(report.inputs[0]).toMatchObject({ status: 'fail', failing: 1, kinks: 0 });
    expect(report.inputs[0].worst?.inputIndex).toEqual([4, 5]);
    expect(gradcheck(cubeWithWrongElement(37, 1), [x]).passed).toBe(true);
  });

  it('still reports a small kink whose gradient is the mean of its slopes, which the central difference matches', () => {
    // sin(x) + 0.001·|x|, with sign(0) = 0 at the kink: the central difference at 0 is exactly cos(0).
    const smallKink = defineOp({
      name: 'smallKink',
      forward: (t) => t.sin().add(t.abs().mul(1e-3)),
      backward: ({ inputs: [t] }, g) => [g.mul(t.cos().add(t.sign().mul(1e-3)))],
    });
    const report = gradcheck(smallKink, [tensor([0.5, 0, -1.25], { requiresGrad: true, name: 'x' })]);
    expect(report.inputs[0]).toMatchObject({ status: 'kink', failing: 0, kinks: 1 });
    expect(report.inputs[0].kink?.inputIndex).toEqual([1]);
  });

  it('evaluates a function that differentiates inside with the graph recorded, so its gradient is not lost', () => {
    // The gradient of Σx³ is 3x², whose derivative 6x the differences must see.
    const firstDerivative = (t: Tensor) => grad(t.mul(t).mul(t).sum(), t, { createGraph: true })[0];
    const report = gradcheck(firstDerivative, [tensor([0, 1.5, -2], { requiresGrad: true, name: 'x' })]);
    expect(report.passed, report.message).toBe(true);
    expect(report.inputs[0].maxRelError).toBeLessThan(1e-8);
  });
});

describe('the report', () => {
  it('measures errors instead of capping them, and counts the wrong elements', () => {
    const x = randn([2, 3], { seed: 5, requiresGrad: true, name: 'x' });
    x.data.forEach((v, i) => (x.data[i] = v + Math.sign(v || 1)));
    const report = gradcheck(cubeWithWrongElement(4, 3), [x]);
    const [input] = report.inputs;
    expect(input.maxRelError).toBeCloseTo(2, 8); // |3a − a| / |a|, not capped at 1
    expect(input.failing).toBe(1);
    expect(input.total).toBe(6);
    expect(report.message).toMatch(/FAIL\s+output 0\[1, 1\] w\.r\.t\. x\[1, 1\].*\s1 of 6$/m);
  });

  it('prints the step and the tolerance it used, estimated or set by the caller', () => {
    const x = randn([3], { seed: 2, requiresGrad: true, name: 'x' });
    const estimated = gradcheck((t: Tensor) => t.exp(), [x]);
    expect(estimated.options).toEqual({ eps: 2 ** -17, atol: null, rtol: 0 });
    expect(estimated.largestTolerance).toBeGreaterThan(0);
    expect(estimated.largestTolerance).toBeLessThan(1e-8);
    expect(estimated.message).toMatch(/^gradcheck passed \(full mode, step 7\.63e-6·max\(1, \|x\|\), tolerance 10 × estimated error, up to \S+\)$/m);
    const flat = gradcheck((t: Tensor) => t.exp(), [x], { eps: 1e-6, atol: 1e-5, rtol: 1e-3 });
    expect(flat.message).toMatch(/^gradcheck passed \(full mode, step 1\.00e-6·max\(1, \|x\|\), tolerance atol 1\.00e-5 \+ rtol 0\.001·\|numeric\|\)$/m);
  });
});
