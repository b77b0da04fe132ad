import { describe, expect, it } from 'vitest';
import { SGD, grad, noGrad, tensor } from 'gradgraph';

/* Values changed in place after an op recorded them: backward refuses instead of using them. */

const PYTORCH = 'one of the variables needed for gradient computation has been modified by an inplace operation';

function problem() {
  const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
  const w = tensor([3, 4], { requiresGrad: true, name: 'w' });
  return { x, w };
}

describe('values changed after they were recorded', () => {
  it('refuses the issue example, naming the tensor, the op, the element and both values', () => {
    const { x, w } = problem();
    const y = x.mul(w).sum();
    w.data[0] = 100;
    expect(() => y.backward()).toThrow(
      "backward: tensor 'w', saved as the input b of op 'mul' (label '×'), was changed in place after the op was recorded: element [0] was 3 and is now 100.",
    );
    expect(() => y.backward()).toThrow(PYTORCH);
    // Nothing was handed out half-way.
    expect(x.grad).toBeNull();
    expect(() => grad(y, x)).toThrow("tensor 'w', saved as the input b of op 'mul'");
  });

  it('sees writes through a reference taken before the op was recorded, and through an alias', () => {
    const { x, w } = problem();
    const values = w.data;
    const y = x.mul(w).sum();
    values[1] = -1;
    expect(() => y.backward()).toThrow("tensor 'w', saved as the input b of op 'mul' (label '×'), was changed in place after the op was recorded: element [1] was 4 and is now -1");
    const fresh = problem();
    const z = fresh.x.mul(fresh.w).sum();
    fresh.w.detach().data.fill(0);
    expect(() => z.backward()).toThrow("tensor 'w', saved as the input b of op 'mul'");
  });

  it('checks an output that the backward reuses, and names an unnamed tensor by its shape', () => {
    const x = tensor([[0, 1]], { requiresGrad: true });
    const y = x.exp();
    y.data[1] = 0;
    expect(() => grad(y, x, { gradOutputs: tensor([[1, 1]]) })).toThrow("backward: a tensor of shape [1, 2], saved as the output of op 'exp' (label 'exp'), was changed in place after the op was recorded: element [0, 1] was 2.718281828459045 and is now 0");
  });

  it('refuses a backward through parameters an optimizer step has moved since the forward pass', () => {
    const { x, w } = problem();
    const y = x.mul(w).sum();
    y.backward();
    const z = x.mul(w).sum();
    new SGD([w], { lr: 0.5 }).step();
    expect(() => z.backward()).toThrow("tensor 'w', saved as the input b of op 'mul'");
  });

  it('lets reads, writes that restore the values and a new forward pass through', () => {
    const { x, w } = problem();
    const y = x.mul(w).sum();
    // Reading is not changing: x.data, w.data and y.data are only looked at.
    expect([...x.data, ...w.data, ...y.data]).toEqual([1, 2, 3, 4, 11]);
    w.data[0] = 5;
    w.data[0] = 3;
    y.backward();
    expect(x.grad?.toArray()).toEqual([3, 4]);
    // The training loop: change the values, then record again.
    const sgd = new SGD([w], { lr: 0.5 });
    for (let step = 0; step < 3; step++) {
      sgd.zeroGrad();
      x.zeroGrad();
      const loss = x.mul(w).sum();
      loss.backward();
      sgd.step();
    }
    expect(x.grad?.toArray()).toEqual([3 - 2 * 0.5 * 1, 4 - 2 * 0.5 * 2]);
  });

  it('counts every input of a recorded op as saved, even one its backward does not read (stricter than PyTorch)', () => {
    const { x, w } = problem();
    const y = x.add(w).sum();
    w.data[0] = 0;
    expect(() => y.backward()).toThrow("tensor 'w', saved as the input b of op 'add'");
  });

  it('checks the recorded backward of a second derivative too, and treats NaN as equal to NaN', () => {
    const x = tensor([2, NaN], { requiresGrad: true, name: 'x' });
    const [dx] = grad(x.pow(3).sum(), x, { createGraph: true });
    expect([...x.data].slice(0, 1)).toEqual([2]);
    expect(grad(dx.sum(), x)[0].toArray()).toEqual([12, NaN]);
    const [again] = grad(x.pow(3).sum(), x, { createGraph: true });
    x.data[0] = 1;
    expect(() => grad(again.sum(), x)).toThrow("tensor 'x', saved as the input a of op");
  });
});

describe('buffers handed out before an op saved them, and shared ones', () => {
  it('checks a tensor filled through .data before any op saved it, once an op has', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const w = tensor([3, 4], { name: 'w' });
    // Filling a tensor before using it, the common case: no op saved it, nothing to keep.
    w.data.set([5, 6]);
    const y = x.mul(w).sum();
    w.data[0] = 7;
    expect(() => y.backward()).toThrow("tensor 'w', saved as the input b of op 'mul' (label '×'), was changed in place after the op was recorded: element [0] was 5 and is now 7");
  });

  it('catches a change through a view of a saved tensor, recorded or not', () => {
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    const w = tensor([[3, 4]], { name: 'w' });
    const y = x.mul(w).sum();
    noGrad(() => w.reshape([2])).data[1] = 0;
    expect(() => y.backward()).toThrow("tensor 'w', saved as the input b of op 'mul' (label '×'), was changed in place after the op was recorded: element [0, 1] was 4 and is now 0");
  });
});

describe('constants made from plain numbers', () => {
  const constantOf = (t: ReturnType<typeof tensor>) => t.node!.inputs[1];

  it('share one buffer per value until someone is given it through .data', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const a = x.mul(3);
    const b = x.mul(3);
    expect(constantOf(a).storage).toBe(constantOf(b).storage);
    expect(constantOf(x.mul(4)).storage).not.toBe(constantOf(a).storage);
    constantOf(a).data[0] = 5;
    // Later constants of the value get a buffer of their own, holding the value asked for.
    const c = x.mul(3);
    expect(constantOf(c).storage).not.toBe(constantOf(a).storage);
    expect(Array.from(c.data)).toEqual([3, 6]);
    expect(grad(c.sum(), x)[0].toArray()).toEqual([3, 3]);
  });

  it('refuse backward through every op that saved a shared constant changed through .data', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const a = x.mul(3).sum();
    const b = x.mul(3).sum();
    constantOf(a.node!.inputs[0]).data[0] = 5;
    expect(() => a.backward()).toThrow("saved as the input b of op 'mul' (label '×'), was changed in place after the op was recorded: element [] was 3 and is now 5");
    expect(() => b.backward()).toThrow(PYTORCH);
  });

  it('keep the sign of -0', () => {
    const x = tensor([1, -1], { requiresGrad: true });
    expect(Object.is(constantOf(x.mul(0)).item(), 0)).toBe(true);
    expect(Object.is(constantOf(x.mul(-0)).item(), -0)).toBe(true);
    expect(Object.is(x.mul(-0).data[0], -0)).toBe(true);
  });
});
