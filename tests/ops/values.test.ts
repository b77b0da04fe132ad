import { describe, expect, it } from 'vitest';
import { grad, matmul, max, mean, sum, tensor, type Tensor } from 'gradgraph';

/* Forward values and gradients worked out by hand. */

const x = (values: number[][] | number[]) => tensor(values, { requiresGrad: true, name: 'x' });
const gradOf = (f: (t: Tensor) => Tensor, t: Tensor) => grad(f(t), t)[0].toArray();

describe('forward values', () => {
  it('broadcasts a row and a column', () => {
    const row = tensor([10, 20, 30]);
    const column = tensor([[1], [2]]);
    expect(row.add(column).toArray()).toEqual([[11, 21, 31], [12, 22, 32]]);
    expect(column.sub(row).toArray()).toEqual([[-9, -19, -29], [-8, -18, -28]]);
  });

  it('reduces with axis, negative axis and keepdims', () => {
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(sum(m).item()).toBe(21);
    expect(sum(m, 0).toArray()).toEqual([5, 7, 9]);
    expect(sum(m, -1, { keepdims: true }).toArray()).toEqual([[6], [15]]);
    expect(mean(m, [0, 1]).item()).toBe(3.5);
    expect(max(m, 1).toArray()).toEqual([3, 6]);
    expect(max(tensor([1, NaN, 3])).item()).toBeNaN();
  });

  it('multiplies matrices and batches of them', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6], [7, 8]]);
    expect(matmul(a, b).toArray()).toEqual([[19, 22], [43, 50]]);
    const batch = tensor([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]);
    expect(matmul(batch, b).toArray()).toEqual([[[5, 6], [7, 8]], [[10, 12], [14, 16]]]);
    expect(matmul(tensor([[0]]), tensor([[Infinity]])).item()).toBeNaN();
  });

  it('transposes, reshapes and applies the activations', () => {
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(m.T.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(m.reshape([3, -1]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(tensor([-1, 0, 2]).relu().toArray()).toEqual([0, 0, 2]);
    expect(tensor([NaN]).relu().item()).toBeNaN();
    expect(tensor([0]).sigmoid().item()).toBe(0.5);
    expect(tensor([-1000, 1000]).sigmoid().toArray()).toEqual([0, 1]);
  });
});

describe('gradients by hand', () => {
  it('d/dx of x*x is 2x (both uses counted)', () => {
    const t = x([1, -2, 3]);
    t.mul(t).sum().backward();
    expect(t.grad?.toArray()).toEqual([2, -4, 6]);
  });

  it('sums a broadcast gradient back to the operand shape', () => {
    const b = tensor([1, 2, 3], { requiresGrad: true });
    const [gb] = grad(tensor([[1, 1, 1], [1, 1, 1]]).mul(b).sum(), b);
    expect(gb.toArray()).toEqual([2, 2, 2]);
  });

  it('matches the textbook derivatives', () => {
    expect(gradOf((t) => t.div(2).sum(), x([1, 2]))).toEqual([0.5, 0.5]);
    expect(gradOf((t) => tensor([6]).div(t).sum(), x([2]))).toEqual([-1.5]);
    expect(gradOf((t) => t.pow(3).sum(), x([2]))).toEqual([12]);
    expect(gradOf((t) => t.sqrt().sum(), x([4]))).toEqual([0.25]);
    expect(gradOf((t) => t.log().sum(), x([4]))).toEqual([0.25]);
    expect(gradOf((t) => t.abs().sum(), x([-3, 0, 2]))).toEqual([-1, 0, 1]);
    expect(gradOf((t) => t.relu().sum(), x([-3, 0, 2]))).toEqual([0, 0, 1]);
    expect(gradOf((t) => t.mean(), x([[1, 2], [3, 4]]))).toEqual([[0.25, 0.25], [0.25, 0.25]]);
    // Tied maxima share the gradient, like PyTorch's amax.
    expect(gradOf((t) => t.max(), x([1, 5, 5]))).toEqual([0, 0.5, 0.5]);
    expect(gradOf((t) => matmul(t, tensor([[1], [2]])).sum(), x([[0, 0]]))).toEqual([[1, 2]]);
  });
});
