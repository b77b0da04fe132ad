import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchNorm, BatchNorm1d, checkRecordedOps, culprits, defineOp, describeCulprit, Linear, Module, randn, Sequential, tensor, trace,
  type OpGradientCheck, type Tensor,
} from 'gradgraph';
import * as gg from 'gradgraph';
import { buildBatchNorm, buildMlp } from '../../src/cli/models.js';
import { awayFromZero, broadcastPairArb, leaf, positive, shapeArb } from '../helpers.js';

/** x³ with its gradient scaled by `factor` at element `wrongAt` only (factor 1: correct). */
function cube(wrongAt = 0, factor = 1) {
  return defineOp({
    name: 'cube',
    inputNames: ['x'],
    label: 'x³',
    forward: (t) => t.mul(t).mul(t),
    backward: ({ inputs: [t] }, g) => {
      const scale = new Float64Array(t.size).fill(1);
      scale[wrongAt] = factor;
      return [g.mul(t.square()).mul(3).mul(tensor(scale, { shape: t.shape }))];
    },
  });
}

function only(checks: readonly OpGradientCheck[]): OpGradientCheck {
  const found = culprits(checks);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('checkRecordedOps', () => {
  it('passes every op of the explicit BN graph, the primitives view and the MLP, for many seeds', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (seed, primitives) => {
      for (const model of [buildBatchNorm({ batch: 5, features: 3, seed, primitives }), buildMlp({ batch: 6, features: 3, seed, primitives })]) {
        const checks = checkRecordedOps(model.outputs, { seed });
        expect(checks.length).toBeGreaterThan(10);
        for (const check of checks) {
          // A seed can put a relu input within the differences' reach of 0, a kink the check must
          // report as one, never as a failure (seed 911271, below); every other op must pass.
          const atKink = check.opName === 'relu' && check.status === 'kink';
          expect(check, `${check.opName} ${check.label} ${check.inputName}`).toMatchObject(atKink ? { failures: 0 } : { status: 'pass', failures: 0 });
        }
      }
    }), { numRuns: 25 });
  });

  it('reports a relu input 0.47 steps from its kink as a kink, not a failure: the MLP at seed 911271, a counterexample of the property above', () => {
    // relu's input [0, 1] is 4.7e-6, under the step of 1e-5: every level of differences crosses 0.
    for (const primitives of [false, true]) {
      const checks = checkRecordedOps(buildMlp({ batch: 6, features: 3, seed: 911271, primitives }).outputs, { seed: 911271 });
      for (const check of checks) {
        const expected = check.opName === 'relu' ? { status: 'kink', failures: 0, kinks: 1 } : { status: 'pass', failures: 0 };
        expect(check, `${check.opName} ${check.label} ${check.inputName}`).toMatchObject(expected);
      }
    }
  });

  it('passes relu 2h to 4h from its kink: the MLP at seed 894250, a counterexample of the property above', () => {
    // relu's input [4, 4] is −2.6e-5; the ±4h samples (3.05e-5) cross 0, the nearer ones do not.
    for (const primitives of [false, true]) {
      const checks = checkRecordedOps(buildMlp({ batch: 6, features: 3, seed: 894250, primitives }).outputs, { seed: 894250 });
      for (const check of checks) expect(check, `${check.opName} ${check.label} ${check.inputName}`).toMatchObject({ status: 'pass', failures: 0 });
    }
  });

  it('passes every built-in op on random shapes, broadcasting patterns and values; kinks never fail', () => {
    const unary: [(x: Tensor) => Tensor, ((v: number) => number) | undefined][] = [
      [gg.neg, undefined], [gg.sqrt, positive], [gg.exp, undefined], [gg.log, positive], [gg.abs, undefined], [gg.square, undefined],
      [gg.relu, undefined], [gg.sigmoid, undefined], [gg.tanh, undefined], [gg.softplus, undefined],
      [(x) => gg.sum(x, 0), undefined], [(x) => gg.mean(x), undefined], [(x) => gg.meanSquare(x, -1, { keepdims: true }), undefined],
      [(x) => gg.max(x), undefined], [(x) => x.reshape([x.size]), undefined], [(x) => gg.transpose(x), undefined],
      [(x) => gg.min(x, 0), undefined], [(x) => gg.softmax(x, -1), undefined], [(x) => gg.logSoftmax(x, 0), undefined],
      [(x) => gg.logsumexp(x, -1), undefined], [(x) => gg.cat([x, x.mul(2)], 0), undefined],
    ];
    const binary: [(a: Tensor, b: Tensor) => Tensor, ((v: number) => number) | undefined][] = [
      [gg.add, undefined], [gg.sub, undefined], [gg.mul, undefined], [gg.div, awayFromZero], [gg.pow, positive],
    ];
    fc.assert(fc.property(shapeArb(3, 4).filter((shape) => shape.length > 0), fc.integer({ min: 0, max: 1e6 }), (shape, seed) => {
      for (const [op, away] of unary) {
        for (const check of checkRecordedOps([op(leaf(shape, seed, away))], { seed })) expect(check.status).not.toBe('fail');
      }
    }), { numRuns: 30 });
    fc.assert(fc.property(broadcastPairArb, fc.integer({ min: 0, max: 1e6 }), ([shapeA, shapeB], seed) => {
      for (const [op, away] of binary) {
        const checks = checkRecordedOps([op(leaf(shapeA, seed, away, 'a'), leaf(shapeB, seed + 1, op === gg.pow ? undefined : away, 'b'))], { seed });
        for (const check of checks) expect(check, check.opName).toMatchObject({ status: 'pass' });
      }
      const a = leaf([...shapeA.slice(-1), 2, 3], seed, undefined, 'a');
      const b = leaf([3, 2], seed + 2, undefined, 'b');
      for (const check of checkRecordedOps([gg.matmul(a, b)], { seed })) expect(check.status).toBe('pass');
    }), { numRuns: 30 });
  });

  it('names a wrong defineOp inside the BN graph: op, label, input, worst element, analytic and numeric', () => {
    const x = randn([6, 4], { seed: 3, requiresGrad: true, name: 'x' });
    const gamma = randn([4], { seed: 4, requiresGrad: true, name: 'γ' });
    const beta = randn([4], { seed: 5, requiresGrad: true, name: 'β' });
    const y = batchNorm(cube(13, 1.001)(x), gamma, beta);
    const checks = checkRecordedOps([y]);
    const culprit = only(checks);
    expect(culprit).toMatchObject({ opName: 'cube', label: 'x³', inputIndex: 0, inputName: 'x', scope: [], status: 'fail', failures: 1, elements: 24 });
    expect(culprit.worst?.inputIndex).toEqual([3, 1]);
    // cube is elementwise: the wrong entry of its Jacobian is ∂y[3, 1]/∂x[3, 1], 1e-3 too large.
    expect(culprit.worst?.outputIndex).toEqual([3, 1]);
    expect(culprit.worst!.analytic / culprit.worst!.numeric).toBeCloseTo(1.001, 8);
    expect(culprit.maxRelError).toBeCloseTo(1e-3, 5);
    expect(describeCulprit(culprit)).toMatch(/^the gradient of op 'cube' \('x³'\) with respect to its input x is wrong at x\[3, 1\] \(output \[3, 1\]\): analytic \S+, numeric \S+ \(max rel err 9\.99e-4, 1 of 24 elements wrong\)$/);
    // The BN steps after it are right: each is checked on the values it saw.
    expect(checks.filter((c) => c.opName !== 'cube').every((c) => c.status === 'pass')).toBe(true);
  });

  it('names a wrong defineOp inside a module, with its scope', () => {
    class Cube extends Module {
      constructor() {
        super('cube: Cube');
      }
      forward(x: Tensor): Tensor {
        return cube(2, 0.5)(x);
      }
    }
    const net = new Sequential([new Linear(3, 4, { seed: 1 }), new Cube(), new BatchNorm1d(4), new Linear(4, 2, { seed: 2 })]);
    const y = net.call(randn([5, 3], { seed: 6, name: 'x' }));
    const culprit = only(checkRecordedOps([y]));
    expect(culprit).toMatchObject({ opName: 'cube', scope: ['Sequential', 'cube: Cube'], inputName: 'x' });
    expect(culprit.worst?.inputIndex).toEqual([0, 2]);
    expect(describeCulprit(culprit)).toContain("op 'cube' ('x³', in Sequential › cube: Cube)");
  });

  it('names a built-in op whose gradient is broken, leaving the others alone', () => {
    const model = buildBatchNorm({ batch: 4, features: 3, seed: 2 });
    const sqrtNode = findNode(model.outputs[0], 'sqrt');
    const op = sqrtNode.op;
    const original = op.backward;
    op.backward = (ctx, g) => original.call(op, ctx, g).map((grad) => grad?.mul(1.01));
    try {
      const culprit = only(checkRecordedOps(model.outputs));
      expect(culprit).toMatchObject({ opName: 'sqrt', label: 'sqrt', inputName: 'x', status: 'fail' });
      expect(culprit.maxRelError).toBeCloseTo(0.01 / 1.01, 6);
    } finally {
      op.backward = original;
    }
    expect(culprits(checkRecordedOps(model.outputs))).toEqual([]);
  });

  it('names the output element whose Jacobian entry is wrong, with that entry\'s analytic and numeric values', () => {
    const rowSum = defineOp({
      name: 'rowSum',
      forward: (t) => t.sum(1),
      // ∂y[1]/∂x[1, 2] should be 1.
      backward: (_ctx, g) => [g.reshape([2, 1]).mul(tensor([[1, 1, 1], [1, 1, 1.5]]))],
    });
    const culprit = only(checkRecordedOps([rowSum(randn([2, 3], { seed: 2, requiresGrad: true }))]));
    expect(culprit.worst).toMatchObject({ inputIndex: [1, 2], outputIndex: [1] });
    expect(culprit.worst?.analytic).toBe(1.5);
    expect(culprit.worst?.numeric).toBeCloseTo(1, 9);
  });

  it('finds an error of 1e-3 in one element of 1,024 (element by element) and of 16,384 (random projections)', () => {
    for (const size of [1024, 16384]) {
      const x = randn([size], { seed: 7, requiresGrad: true, name: 'x' });
      const wrong = only(checkRecordedOps([cube(size - 5, 1.001)(x)]));
      expect(wrong.mode).toBe(size === 1024 ? 'elements' : 'projection');
      if (size === 1024) expect(wrong.worst?.inputIndex).toEqual([size - 5]);
      expect(checkRecordedOps([cube()(x)])[0].status).toBe('pass');
    }
  });

  it('calls an input sitting on a kink a kink, not a wrong gradient: relu at 0, ties in max', () => {
    const x = tensor([-1, 0, 2, 0], { requiresGrad: true, name: 'x' });
    const [relu] = checkRecordedOps([x.relu()]);
    expect(relu).toMatchObject({ opName: 'relu', status: 'kink', kinks: 2, failures: 0, elements: 4 });
    expect([[1], [3]]).toContainEqual(relu.worst?.inputIndex);
    // Three tied maxima share the gradient in thirds; the central difference gives each a half.
    const tied = tensor([[3, 3, 3], [0, 2, 1]], { requiresGrad: true });
    const [max] = checkRecordedOps([tied.max(1)]);
    expect(max).toMatchObject({ opName: 'max', status: 'kink', kinks: 3, failures: 0 });
    // Two tied maxima get a half each, which the central difference happens to agree with: still a kink.
    expect(checkRecordedOps([tensor([[3, 1, 3]], { requiresGrad: true }).max(1)])[0]).toMatchObject({ status: 'kink', kinks: 2 });
    expect(checkRecordedOps([tensor([0, 2], { requiresGrad: true }).abs()])[0]).toMatchObject({ status: 'kink', kinks: 1 });
    expect(culprits([relu, max])).toEqual([]);
    // Within a step h (1e-5) of a kink too: one-sided slopes that jump at every step.
    for (const offset of [1e-7, 5e-6]) {
      expect(checkRecordedOps([tensor([offset, 1], { requiresGrad: true }).relu()])[0].status, `relu at ${offset}`).toBe('kink');
      expect(checkRecordedOps([tensor([-offset, 1], { requiresGrad: true }).abs()])[0].status, `abs at ${-offset}`).toBe('kink');
    }
    // 1.5h and 3h away, the samples at h/4 and h/2 miss the kink and measure the derivative at x.
    for (const offset of [1.5e-5, 3e-5]) {
      expect(checkRecordedOps([tensor([offset, 1], { requiresGrad: true }).relu()])[0].status, `relu at ${offset}`).toBe('pass');
      expect(checkRecordedOps([tensor([-offset, 1], { requiresGrad: true }).abs()])[0].status, `abs at ${-offset}`).toBe('pass');
    }
  });

  it('does not call a wrong gradient a kink where the function curves hard (log near 0)', () => {
    const wrongLog = defineOp({ name: 'wrongLog', forward: (t) => t.log(), backward: ({ inputs: [t] }, g) => [g.div(t).mul(1.001)] });
    const [check] = checkRecordedOps([wrongLog(tensor([0.003, 0.01, 2], { requiresGrad: true }))]);
    expect(check).toMatchObject({ status: 'fail', failures: 3, kinks: 0 });
  });

  it('reports a backward that returns the wrong shape, or throws, as a failure that says so', () => {
    const badShape = defineOp({ name: 'badShape', forward: (t) => t.exp(), backward: (_ctx, g) => [g.sum()] });
    const throws = defineOp({ name: 'throws', forward: (t) => t.exp(), backward: () => { throw new Error('not written yet'); } });
    const x = randn([2, 2], { seed: 1, requiresGrad: true });
    expect(only(checkRecordedOps([badShape(x)])).problem).toBe('its backward gave a gradient of shape [] for input0 of shape [2, 2]');
    expect(describeCulprit(only(checkRecordedOps([throws(x)])))).toBe("the gradient of op 'throws' with respect to its input input0 is wrong: its backward threw: not written yet");
    let calls = 0;
    const noisy = defineOp({ name: 'noisy', forward: (t) => t.mul(1 + (calls++ % 7) * 1e-9), backward: (_ctx, g) => [g] });
    expect(only(checkRecordedOps([noisy(x)])).problem).toBe('its forward gives different values for the same inputs, so no difference measures its gradient');
  });

  it('keys each check by the op key trace() gives the node, and changes nothing in the graph', () => {
    const model = buildMlp({ batch: 4, features: 3, seed: 1 });
    const graph = trace(model.outputs);
    const before = model.inputs.map((t) => Float64Array.from(t.data));
    const checks = checkRecordedOps(model.outputs);
    for (const check of checks) expect(graph.getNodeAttributes(check.key)).toMatchObject({ kind: 'op', op: check.opName, label: check.label, scope: check.scope });
    expect(new Set(checks.map((c) => c.key)).size).toBe(graph.filterNodes((_, a) => a.kind === 'op').length);
    model.inputs.forEach((t, i) => expect(t.data).toEqual(before[i]));
    expect(model.inputs.every((t) => t.grad === null)).toBe(true);
  });

  it('names its argument in errors', () => {
    expect(() => checkRecordedOps(3 as never)).toThrow('checkRecordedOps: outputs must be an array of Tensors');
    expect(() => checkRecordedOps([randn([2])], { eps: 0 })).toThrow('checkRecordedOps: eps must be a finite number > 0, got 0');
  });
});

function findNode(output: Tensor, opName: string) {
  const stack = [output];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t.node?.op.name === opName) return t.node;
    stack.push(...(t.node?.inputs ?? []));
  }
  throw new Error(`no ${opName} node`);
}
