import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import * as gg from 'gradgraph';
import type { Tensor } from 'gradgraph';
import { leaf, shapeArb } from '../helpers.js';

/*
 * The ops that move values (cat, stack, split, narrow, squeeze, unsqueeze, flatten, permute,
 * transpose, clone, gather), checked to second order over random shapes and axes. They are
 * linear, so each result is squared before the check: otherwise the second derivative is 0 and
 * gradgradcheck proves nothing.
 */

const runs = { numRuns: 12 };
const squared = (f: (...t: Tensor[]) => Tensor | Tensor[]) => (...t: Tensor[]) => {
  const out = f(...t);
  return Array.isArray(out) ? out.map((o) => o.square()) : (out as Tensor).square();
};
const check = (f: (...t: Tensor[]) => Tensor | Tensor[], inputs: Tensor[]) => {
  expect(squared(f)).toPassGradcheck(inputs);
  expect(squared(f)).toPassGradgradcheck(inputs);
};

/** A shape with at least one axis, and an axis of it. */
const shapeAndAxis = shapeArb(3).filter((s) => s.length > 0).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), fc.integer()));

describe('cat and stack', () => {
  it('cat joins along any axis and passes gradcheck and gradgradcheck', () => {
    fc.assert(fc.property(shapeAndAxis, fc.integer({ min: 0, max: 3 }), ([shape, axis, seed], extra) => {
      const at = axis < 0 ? axis + shape.length : axis;
      const other = shape.map((d, i) => (i === at ? extra : d));
      const a = leaf(shape, seed, undefined, 'a');
      const b = leaf(other, seed + 1, undefined, 'b');
      const out = gg.cat([a, b], axis);
      expect(out.shape[at]).toBe(shape[at] + extra);
      check((p, q) => gg.cat([p, q], axis), [a, b]);
    }), runs);
  });

  it('stack adds a new axis anywhere, including after the last', () => {
    fc.assert(fc.property(shapeArb(2), fc.integer(), fc.nat(), (shape, seed, pick) => {
      const axis = (pick % (shape.length + 1));
      const a = leaf(shape, seed, undefined, 'a');
      const b = leaf(shape, seed + 1, undefined, 'b');
      const out = gg.stack([a, b], axis);
      expect(out.shape).toEqual([...shape.slice(0, axis), 2, ...shape.slice(axis)]);
      check((p, q) => gg.stack([p, q], axis), [a, b]);
    }), runs);
  });

  it('puts the values where PyTorch does', () => {
    const a = gg.tensor([[1, 2], [3, 4]]);
    const b = gg.tensor([[5], [6]]);
    expect(gg.cat([a, b], 1).toArray()).toEqual([[1, 2, 5], [3, 4, 6]]);
    expect(gg.cat([a, a]).toArray()).toEqual([[1, 2], [3, 4], [1, 2], [3, 4]]);
    expect(gg.stack([a, a], -1).toArray()).toEqual([[[1, 1], [2, 2]], [[3, 3], [4, 4]]]);
  });

  it('names the tensor that does not fit', () => {
    expect(() => gg.cat([gg.zeros([2, 3]), gg.zeros([3, 3])], 1)).toThrow('cat: tensors[1] has shape [3, 3] but tensors[0] has shape [2, 3]; they must match except along axis 1');
    expect(() => gg.stack([gg.zeros([2]), gg.zeros([3])])).toThrow('stack: tensors[1] has shape [3] but tensors[0] has shape [2]; all must have the same shape');
    expect(() => gg.cat([])).toThrow('cat: tensors must be a non-empty array of tensors, got an array of length 0');
    expect(() => gg.cat([gg.zeros([2])], 1)).toThrow('cat: axis 1 is out of range for a tensor with 1 dimension(s) (valid: -1 to 0)');
  });
});

describe('split and narrow', () => {
  it('split by one size or a list passes gradcheck and gradgradcheck', () => {
    fc.assert(fc.property(shapeAndAxis, fc.integer({ min: 1, max: 3 }), ([shape, axis, seed], size) => {
      const x = leaf(shape, seed);
      const pieces = gg.split(x, size, axis);
      const at = axis < 0 ? axis + shape.length : axis;
      expect(pieces.map((p) => p.shape[at])).toEqual(Array.from({ length: Math.ceil(shape[at] / size) }, (_, i) => Math.min(size, shape[at] - i * size)));
      check((t) => gg.split(t, size, axis), [x]);
      check((t) => gg.split(t, [shape[at] - 1, 1], axis), [x]);
    }), runs);
  });

  it('narrow passes gradcheck and gradgradcheck', () => {
    fc.assert(fc.property(shapeAndAxis, fc.nat(), fc.nat(), ([shape, axis, seed], s, l) => {
      const at = axis < 0 ? axis + shape.length : axis;
      const start = s % shape[at];
      const length = l % (shape[at] - start + 1);
      check((t) => gg.narrow(t, axis, start, length), [leaf(shape, seed)]);
    }), runs);
  });

  it('match PyTorch on values and on bad arguments', () => {
    const x = gg.tensor([[1, 2, 3, 4, 5]]);
    expect(gg.split(x, 2, 1).map((p) => p.toArray())).toEqual([[[1, 2]], [[3, 4]], [[5]]]);
    expect(gg.split(x, [1, 4], -1).map((p) => p.toArray())).toEqual([[[1]], [[2, 3, 4, 5]]]);
    expect(x.narrow(1, -2, 2).toArray()).toEqual([[4, 5]]);
    expect(() => gg.split(x, [1, 2], 1)).toThrow('split: sizes [1,2] add up to 3, but axis 1 of x (shape [1, 5]) has size 5');
    expect(() => gg.split(x, 0, 1)).toThrow('split: sizes must be a positive integer, got 0');
    expect(() => gg.narrow(x, 1, 3, 3)).toThrow('narrow: length must be an integer from 0 to 2, got 3');
  });
});

describe('squeeze, unsqueeze, flatten, permute, transpose, clone', () => {
  it('pass gradcheck and gradgradcheck', () => {
    fc.assert(fc.property(shapeArb(3, 2), fc.integer(), fc.nat(), (shape, seed, pick) => {
      const x = leaf(shape, seed);
      const nd = shape.length;
      const slot = pick % (nd + 1);
      check((t) => gg.unsqueeze(t, slot), [x]);
      check((t) => gg.squeeze(t), [x]);
      check((t) => gg.clone(t), [x]);
      if (nd > 0) {
        check((t) => gg.squeeze(t, pick % nd), [x]);
        check((t) => gg.flatten(t, pick % nd), [x]);
        const perm = shape.map((_, i) => i).sort((i, j) => ((i * 7 + seed) % 5) - ((j * 7 + seed) % 5));
        check((t) => gg.permute(t, perm).mul(gg.tensor(Array.from({ length: t.size }, (_, i) => i + 1), { shape: perm.map((p) => shape[p]) })), [x]);
        check((t) => t.transpose(0, nd - 1), [x]);
      }
    }), runs);
  });

  it('follow PyTorch on shapes', () => {
    const x = gg.zeros([2, 1, 3, 1]);
    expect(x.squeeze().shape).toEqual([2, 3]);
    expect(x.squeeze(1).shape).toEqual([2, 3, 1]);
    expect(x.squeeze(0).shape).toEqual([2, 1, 3, 1]); // size 2: unchanged, not an error
    expect(x.squeeze([1, -1]).shape).toEqual([2, 3]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 1, 3, 1, 1]);
    expect(x.unsqueeze(4).shape).toEqual([2, 1, 3, 1, 1]);
    expect(x.flatten().shape).toEqual([6]);
    expect(x.flatten(1).shape).toEqual([2, 3]);
    expect(x.flatten(1, 2).shape).toEqual([2, 3, 1]);
    expect(gg.tensor(5).flatten().shape).toEqual([1]);
    expect(x.permute([3, 2, 1, 0]).shape).toEqual([1, 3, 1, 2]);
    expect(x.transpose(0, 2).shape).toEqual([3, 1, 2, 1]);
    expect(gg.tensor([[1, 2, 3], [4, 5, 6]]).transpose(1, 0).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it('refuse bad axes, naming the function and the argument', () => {
    const x = gg.zeros([2, 3]);
    expect(() => x.unsqueeze(3)).toThrow('unsqueeze: axis 3 is out of range for x of shape [2, 3] (valid: -3 to 2)');
    expect(() => x.flatten(1, 0)).toThrow('flatten: startAxis (1, axis 1) must not come after endAxis (0, axis 0) for x of shape [2, 3]');
    expect(() => x.transpose(0)).toThrow("transpose: give two axes to swap, transpose(x, axis0, axis1), or a list of all axes; got axis0 0 and axis1 undefined");
    expect(() => x.transpose(0, 2)).toThrow('transpose: axis1 2 is out of range for a tensor with 2 dimension(s) (valid: -2 to 1)');
    expect(() => x.permute([0, 0])).toThrow('permute: axes [0,0] are not a permutation of the 2 axes of x (shape [2, 3])');
    expect(() => x.squeeze('1' as never)).toThrow("squeeze: axes must be an array of integers, got the string '1'");
  });

  it('clone copies the data; reshape and squeeze share it', () => {
    const x = gg.tensor([1, 2, 3]);
    expect(x.clone().data).not.toBe(x.data);
    expect(x.clone().toArray()).toEqual([1, 2, 3]);
    expect(x.unsqueeze(0).data).toBe(x.data);
  });
});

describe('gather', () => {
  it('passes gradcheck and gradgradcheck, repeated indices included', () => {
    fc.assert(fc.property(shapeAndAxis, fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), ([shape, axis, seed], picks) => {
      const at = axis < 0 ? axis + shape.length : axis;
      const indexShape = shape.map((d, i) => (i === at ? 3 : Math.max(1, d - (picks[i] % 2))));
      const size = indexShape.reduce((a, b) => a * b, 1);
      const index = gg.tensor(Array.from({ length: size }, (_, i) => picks[i % picks.length] % shape[at]), { shape: indexShape });
      check((t) => gg.gather(t, axis, index), [leaf(shape, seed)]);
    }), runs);
  });

  it('reads like PyTorch and names a bad index', () => {
    const x = gg.tensor([[1, 2], [3, 4]]);
    expect(x.gather(1, gg.tensor([[0, 0], [1, 0]])).toArray()).toEqual([[1, 1], [4, 3]]);
    expect(x.gather(0, gg.tensor([[1, 0]])).toArray()).toEqual([[3, 2]]);
    expect(() => x.gather(1, gg.tensor([[0], [2]]))).toThrow('gather: index[1, 0] is 2, but axis 1 of x (shape [2, 2]) takes integers from 0 to 1');
    expect(() => x.gather(1, gg.tensor([0, 1]))).toThrow('gather: index of shape [2] does not fit x of shape [2, 2]');
  });
});

describe('matmul with vectors, and dot', () => {
  it('follows PyTorch: vector·matrix, matrix·vector, vector·vector, batched', () => {
    const v = gg.tensor([1, 2]);
    const m = gg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(gg.matmul(v, m).toArray()).toEqual([9, 12, 15]);
    expect(gg.matmul(m.T, v).toArray()).toEqual([9, 12, 15]);
    expect(gg.matmul(v, v).shape).toEqual([]);
    expect(gg.dot(v, v).item()).toBe(5);
    expect(gg.matmul(gg.zeros([4, 2, 3]), gg.zeros([3])).shape).toEqual([4, 2]);
    expect(gg.matmul(gg.zeros([3]), gg.zeros([4, 3, 2])).shape).toEqual([4, 2]);
    expect(() => gg.dot(v, m)).toThrow('dot: needs two 1-D tensors of the same length, got a of shape [2] and b of shape [2, 3]');
    expect(() => gg.matmul(v, gg.zeros([3]))).toThrow('matmul: a of shape [2] and b of shape [3] do not chain: the last axis of a (2) must equal the only axis of b (3)');
  });

  it('passes gradcheck and gradgradcheck with 1-D operands', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), shapeArb(1, 2), fc.integer(), (k, n, batch, seed) => {
      const v = leaf([k], seed, undefined, 'v');
      const m = leaf([...batch, k, n], seed + 1, undefined, 'm');
      const w = leaf([k], seed + 2, undefined, 'w');
      expect(gg.matmul).toPassGradcheck([v, m]);
      expect(gg.matmul).toPassGradgradcheck([v, m]);
      expect((a: Tensor, b: Tensor) => gg.matmul(b.transpose(-1, -2), a)).toPassGradgradcheck([v, m]);
      expect(gg.dot).toPassGradgradcheck([v, w]);
    }), runs);
  });
});
