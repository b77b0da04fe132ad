import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import * as gg from 'gradgraph';
import type { Tensor, TensorLike } from 'gradgraph';
import { pytorch } from '../fixtures/pytorch-edges.js';
import { awayFromZero, broadcastPairArb, leaf, positive, shapeArb } from '../helpers.js';

/*
 * Every op's gradient, first and second order, checked by central differences over random
 * shapes, broadcasting patterns and values kept away from kinks and poles.
 */

const runs = { numRuns: 15 };

type Away = ((v: number) => number) | undefined;
const binary: [string, (a: TensorLike, b: TensorLike) => Tensor, Away, Away][] = [
  ['add', gg.add, undefined, undefined],
  ['sub', gg.sub, undefined, undefined],
  ['mul', gg.mul, undefined, undefined],
  ['div', gg.div, undefined, awayFromZero],
  ['pow', gg.pow, positive, undefined],
  // Random values from different seeds never tie, so no finite difference crosses a kink.
  ['maximum', gg.maximum, undefined, undefined],
  ['minimum', gg.minimum, undefined, undefined],
];

const unary: [string, (x: Tensor) => Tensor, Away][] = [
  ['neg', gg.neg, undefined],
  ['sqrt', gg.sqrt, positive],
  ['exp', gg.exp, undefined],
  ['log', gg.log, positive],
  ['abs', gg.abs, awayFromZero],
  ['square', gg.square, undefined],
  ['relu', gg.relu, awayFromZero],
  ['sigmoid', gg.sigmoid, undefined],
  ['tanh', gg.tanh, undefined],
  ['softplus', gg.softplus, undefined],
  ['sign', gg.sign, awayFromZero],
  ['sin', gg.sin, undefined],
  ['cos', gg.cos, undefined],
  ['log1p', gg.log1p, positive],
  ['expm1', gg.expm1, undefined],
  ['reciprocal', gg.reciprocal, awayFromZero],
  ['rsqrt', gg.rsqrt, positive],
  ['erf', gg.erf, undefined],
  ['gelu', gg.gelu, undefined],
  ['elu', (x) => gg.elu(x), awayFromZero],
  ['elu alpha 0.5', (x) => gg.elu(x, 0.5), awayFromZero],
  ['leakyRelu', (x) => gg.leakyRelu(x), awayFromZero],
  ['leakyRelu slope 0.2', (x) => gg.leakyRelu(x, 0.2), awayFromZero],
  ['clamp', (x) => gg.clamp(x, -1, 1.2), (v) => (Math.abs(Math.abs(v) - 1) < 0.1 ? v + 0.3 : v)],
  ['clamp min only', (x) => gg.clamp(x, 0.3, null), (v) => (Math.abs(v - 0.3) < 0.1 ? v + 0.3 : v)],
  ['where', (x) => gg.where(gg.tensor(x.data.map((_, i) => i % 2), { shape: x.shape }), x.square(), x.exp()), undefined],
];

describe.each(binary)('%s', (_name, op, awayA, awayB) => {
  it('passes gradcheck and gradgradcheck for every broadcasting pattern', () => {
    fc.assert(
      fc.property(broadcastPairArb, fc.integer(), ([shapeA, shapeB], seed) => {
        const a = leaf(shapeA, seed, awayA, 'a');
        const b = leaf(shapeB, seed + 1, awayB, 'b');
        expect(op).toPassGradcheck([a, b]);
        expect(op).toPassGradgradcheck([a, b]);
      }),
      runs,
    );
  });

  it('accepts a plain number on either side', () => {
    const a = leaf([2, 3], 7, awayA ?? positive, 'a');
    expect((x: Tensor) => op(x, gg.tensor(2))).toPassGradcheck([a]);
    expect(op(a, 2).toArray()).toEqual(op(a, gg.tensor(2)).toArray());
    expect(op(2, a).shape).toEqual([2, 3]);
  });
});

describe('where', () => {
  it('passes gradcheck and gradgradcheck with condition, a and b broadcast together', () => {
    fc.assert(
      fc.property(broadcastPairArb, fc.integer(), fc.boolean(), ([shapeA, shapeB], seed, small) => {
        const a = leaf(shapeA, seed, undefined, 'a');
        const b = leaf(shapeB, seed + 1, undefined, 'b');
        const full = gg.broadcastShapes('where', shapeA, shapeB);
        const conditionShape = small ? full.map((d, i) => (i % 2 === 0 ? 1 : d)) : full;
        const size = conditionShape.reduce((n, d) => n * d, 1);
        const condition = gg.tensor(Array.from({ length: size }, (_, i) => (seed + i) & 1), { shape: conditionShape });
        const f = (p: Tensor, q: Tensor) => gg.where(condition, p.square(), q.mul(q).mul(q));
        expect(f).toPassGradcheck([a, b]);
        expect(f).toPassGradgradcheck([a, b]);
      }),
      runs,
    );
  });
});

describe.each(unary)('%s', (_name, op, away) => {
  it('passes gradcheck and gradgradcheck', () => {
    fc.assert(
      fc.property(shapeArb(), fc.integer(), (shape, seed) => {
        const x = leaf(shape, seed, away);
        expect(op).toPassGradcheck([x]);
        expect(op).toPassGradgradcheck([x]);
      }),
      runs,
    );
  });
});

/** Random axes of a shape: a number, a list, negative or omitted, with or without keepdims. */
const reductionArb = shapeArb(3).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.oneof(
      fc.constant(undefined),
      shape.length === 0 ? fc.constant(undefined) : fc.integer({ min: -shape.length, max: shape.length - 1 }),
      fc.subarray(shape.map((_, i) => i)),
    ),
    fc.boolean(),
    fc.integer(),
  ),
);

describe.each([
  ['sum', gg.sum],
  ['mean', gg.mean],
  ['logsumexp', gg.logsumexp],
  ['variance, correction 0', (x: Tensor, axis?: number | number[], options?: gg.ReduceOptions) => gg.variance(x, axis, { ...options, correction: 0 })],
] as const)('%s', (_name, op) => {
  it('passes gradcheck and gradgradcheck over any axes, with and without keepdims', () => {
    fc.assert(
      fc.property(reductionArb, ([shape, axis, keepdims, seed]) => {
        const f = (t: Tensor) => op(t, axis, { keepdims });
        const x = leaf(shape, seed);
        expect(f).toPassGradcheck([x]);
        expect(f).toPassGradgradcheck([x]);
      }),
      runs,
    );
  });
});

describe.each([['max', gg.max], ['min', gg.min]] as const)('%s', (_name, op) => {
  it('passes gradcheck and gradgradcheck away from ties', () => {
    fc.assert(
      fc.property(reductionArb, ([shape, axis, keepdims, seed]) => {
        // Distinct values 0.1 apart, shuffled by the seed, so no finite difference crosses a tie.
        const x = leaf(shape, seed);
        const order = [...x.data.keys()].sort((i, j) => x.data[i] - x.data[j]);
        order.forEach((position, rank) => (x.data[position] = rank * 0.1));
        const f = (t: Tensor) => op(t, axis, { keepdims });
        expect(f).toPassGradcheck([x]);
        expect(f).toPassGradgradcheck([x]);
      }),
      runs,
    );
  });
});

describe.each([['variance', gg.variance], ['std', gg.std]] as const)('%s', (_name, op) => {
  it('passes gradcheck and gradgradcheck wherever it is finite and the spread is not 0', () => {
    fc.assert(
      fc.property(reductionArb, fc.integer({ min: 0, max: 1 }), ([shape, axis, keepdims, seed], correction) => {
        const f = (t: Tensor) => op(t, axis, { keepdims, correction });
        const x = leaf(shape, seed);
        // One value per output: the unbiased variance is NaN and std's gradient too, as in PyTorch (tested in values).
        if (f(x).data.some((v) => !(v > 0) || !Number.isFinite(v))) return;
        expect(f).toPassGradcheck([x]);
        expect(f).toPassGradgradcheck([x]);
      }),
      runs,
    );
  });
});

describe('matmul', () => {
  const batchedArb = fc.tuple(
    fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }),
    shapeArb(2, 3), fc.boolean(), fc.integer(),
  );
  it('passes gradcheck and gradgradcheck, batched with broadcast batch axes', () => {
    fc.assert(
      fc.property(batchedArb, ([m, k, n, batch, broadcastB, seed]) => {
        const a = leaf([...batch, m, k], seed, undefined, 'a');
        const b = leaf([...(broadcastB ? batch.map(() => 1) : batch), k, n], seed + 1, undefined, 'b');
        expect(gg.matmul).toPassGradcheck([a, b]);
        expect(gg.matmul).toPassGradgradcheck([a, b]);
      }),
      runs,
    );
  });
});

describe('transpose, reshape, broadcastTo', () => {
  it('pass gradcheck and gradgradcheck', () => {
    fc.assert(
      fc.property(shapeArb(3), fc.integer(), (shape, seed) => {
        const x = leaf(shape, seed);
        const perm = shape.map((_, i) => i).sort((i, j) => ((i * 7 + seed) % 5) - ((j * 7 + seed) % 5));
        const f = (t: Tensor) => t.transpose(perm).mul(gg.tensor(Array.from({ length: t.size }, (_, i) => i + 1), { shape: perm.map((p) => shape[p]) }));
        expect(f).toPassGradcheck([x]);
        const flat = (t: Tensor) => t.reshape([-1]).square();
        expect(flat).toPassGradgradcheck([x]);
        const wide = (t: Tensor) => t.broadcastTo([2, ...shape]).square();
        expect(wide).toPassGradgradcheck([x]);
      }),
      runs,
    );
  });
});

describe('gradients where the formula meets 0·∞, as PyTorch gives them', () => {
  const { powAtZero, reluAtNaN } = pytorch;

  it('pow: d(aᵇ)/da is 0 where b = 0, and d(aᵇ)/db is 0 where a = 0 and b ≥ 0, not NaN', () => {
    const a = gg.tensor(powAtZero.a, { requiresGrad: true });
    const b = gg.tensor(powAtZero.b, { requiresGrad: true });
    const [ga, gb] = gg.grad(a.pow(b).sum(), [a, b]);
    expect([...ga.data]).toEqual(powAtZero.gradA.map((v) => expect.closeTo(v, 15)));
    expect([...gb.data]).toEqual(powAtZero.gradB.map((v) => expect.closeTo(v, 15)));
    // A NaN there spread through every sum it entered.
    expect(gg.grad(a.pow(0).mul(3).sum(), a)[0].toArray()).toEqual([0, 0, 0, 0, 0]);
    const exponent = gg.tensor([0.5, 2], { requiresGrad: true });
    expect(gg.grad(gg.pow(0, exponent).sum(), exponent)[0].toArray()).toEqual([0, 0]);
    // A broadcast exponent is masked in its own shape, then summed back.
    const column = gg.tensor([[0], [2]], { requiresGrad: true });
    const row = gg.tensor([[0, 1]], { requiresGrad: true });
    const [gColumn, gRow] = gg.grad(column.pow(row).sum(), [column, row]);
    expect(gColumn.toArray()).toEqual([[1], [1]]);
    expect(gRow.toArray()).toEqual([[Math.log(2), 2 * Math.log(2)]]);
  });

  it('pow: the second derivative of x¹ at 0 is 0, and stays differentiable', () => {
    const x = gg.tensor([0], { requiresGrad: true });
    const [first] = gg.grad(x.pow(1).sum(), x, { createGraph: true });
    expect(first.toArray()).toEqual([1]);
    const [second] = gg.grad(first.sum(), x);
    expect(second.toArray()).toEqual(powAtZero.secondDerivativeOfXToThe1At0);
    // Away from 0 nothing changes: the mask records no node unless it is needed.
    const y = gg.tensor([2], { requiresGrad: true });
    const [dy] = gg.grad(y.pow(3).sum(), y, { createGraph: true });
    expect(dy.node?.op.name).not.toBe('zeroWhere');
    expect(gg.grad(dy.sum(), y)[0].toArray()).toEqual([12]);
  });

  it('relu: the gradient at NaN passes g on, as at a positive x (PyTorch: where(x <= 0, 0, g))', () => {
    const x = gg.tensor(reluAtNaN.x.map(Number), { requiresGrad: true });
    x.relu().backward(gg.ones([4]));
    expect(x.grad?.toArray()).toEqual(reluAtNaN.grad);
  });
});
