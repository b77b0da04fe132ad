import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defineOp, detectAnomaly, grad, noGrad, ones, randn, tensor, withScope, type Tensor } from 'gradgraph';

describe('backward', () => {
  it('runs through a chain of 200,000 ops without overflowing the stack', () => {
    const x = tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 200_000; i++) y = y.mul(1.000001);
    y.sum().backward();
    expect(x.grad?.item()).toBeCloseTo(1.000001 ** 200_000, 6);
  });

  it('accumulates into .grad across calls until zeroGrad, like PyTorch', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(x.grad?.toArray()).toEqual([6, 6]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('needs a gradOutput for a non-scalar output, of the same shape', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/output has shape \[2\].*pass one of the same shape/);
    expect(() => x.mul(2).backward(tensor([1, 2, 3]))).toThrow(/gradient output has shape \[3\] but the output has shape \[2\]/);
    x.mul(2).backward(tensor([1, 10]));
    expect(x.grad?.toArray()).toEqual([2, 20]);
  });

  it('refuses an output that does not require grad', () => {
    expect(() => tensor([1]).mul(2).sum().backward()).toThrow(/does not require grad/);
  });

  it('keeps intermediate gradients only when asked', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2);
    const kept = x.add(1).retainGrad();
    h.mul(kept).sum().backward();
    expect(h.grad).toBeNull();
    expect(kept.grad?.toArray()).toEqual([2, 4]);
    const h2 = x.mul(2);
    h2.sum().backward(undefined, { retainGrads: true });
    expect(h2.grad?.toArray()).toEqual([1, 1]);
  });
});

describe('grad', () => {
  it('takes a single gradOutput tensor for a single output', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(grad(x.mul(3), x, { gradOutputs: tensor([1, 10]) })[0].toArray()).toEqual([3, 30]);
    expect(() => grad(x.mul(3), x, { gradOutputs: [] })).toThrow('grad: got 0 gradOutputs for 1 output(s)');
  });

  it('returns gradients without touching .grad', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const [g] = grad(x.square().sum(), x);
    expect(g.toArray()).toEqual([2, 4, 6]);
    expect(x.grad).toBeNull();
  });

  it('differentiates twice with createGraph: a Hessian-vector product', () => {
    // f = sum(x^3): H = diag(6x), so Hv = 6 x v.
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const [g] = grad(x.pow(3).sum(), x, { createGraph: true });
    expect(g.requiresGrad).toBe(true);
    const v = tensor([1, 0, -1]);
    const [hv] = grad(g.mul(v).sum(), x);
    expect(hv.toArray()).toEqual([6, 0, -18]);
  });

  it('does not record the backward pass without createGraph', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const [g] = grad(x.exp().sum(), x);
    expect(g.requiresGrad).toBe(false);
    expect(g.node).toBeNull();
  });

  it('computes only the gradients asked for', () => {
    let calls = 0;
    const spy = defineOp({
      name: 'spy',
      forward: (t) => t.mul(1),
      backward: (_ctx, g) => {
        calls++;
        return [g];
      },
    });
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([2], { requiresGrad: true });
    const y = spy(a).add(b).sum();
    grad(y, b);
    expect(calls).toBe(0);
    grad(y, a);
    expect(calls).toBe(1);
  });

  it('gives the same gradients asked for every leaf at once (no pruning walk) as asked for one at a time', () => {
    const a = tensor([1, -2], { requiresGrad: true });
    const b = tensor([3, 0.5], { requiresGrad: true });
    const middle = a.mul(b);
    const y = middle.exp().add(b.square()).sum();
    const together = grad(y, [a, b, middle]);
    const alone = [grad(y, a)[0], grad(y, b)[0], grad(y, middle)[0]];
    together.forEach((g, i) => expect(g.toArray()).toEqual(alone[i].toArray()));
    expect(grad(y, middle)[0].toArray()).toEqual([Math.exp(3), Math.exp(-1)]);
  });

  it('names an unused input, or gives zeros with allowUnused', () => {
    const a = tensor([1], { requiresGrad: true, name: 'a' });
    const b = tensor([2, 3], { requiresGrad: true, name: 'b' });
    expect(() => grad(a.sum(), [a, b])).toThrow(/do not depend on input 1 \(b\).*allowUnused/);
    expect(grad(a.sum(), [a, b], { allowUnused: true })[1].toArray()).toEqual([0, 0]);
  });

  it('refuses an input that does not require grad', () => {
    const a = tensor([1]);
    expect(() => grad(a.sum(), a)).toThrow(/input 0 does not require grad/);
  });
});

describe('noGrad and scopes', () => {
  it('records nothing inside noGrad and restores recording after a throw', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('records the module scope and a caller-set label on each node', () => {
    const x = tensor([1], { requiresGrad: true });
    const y = withScope('outer', () => withScope('inner', () => x.mul(2).withLabel('scale')));
    expect(y.node?.scope).toEqual(['outer', 'inner']);
    expect(y.node?.label).toBe('scale');
    expect(x.mul(2).node?.scope).toEqual([]);
  });
});

describe('defineOp', () => {
  const cube = defineOp({
    name: 'cube',
    forward: (t) => t.mul(t).mul(t),
    backward: ({ inputs: [t] }, g) => [g.mul(t.square()).mul(3)],
  });

  it('records a custom node that differentiates (twice)', () => {
    const x = tensor([2], { requiresGrad: true });
    const y = cube(x);
    expect(y.node?.op.name).toBe('cube');
    const [g] = grad(y.sum(), x, { createGraph: true });
    expect(g.item()).toBe(12);
    expect(grad(g.sum(), x)[0].item()).toBe(12);
  });

  it('rejects a backward that returns the wrong shape, naming op and shapes', () => {
    const bad = defineOp({ name: 'bad', forward: (t) => t.sum(), backward: (_ctx, g) => [g] });
    const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
    expect(() => bad(x).backward()).toThrow(/backward of op 'bad'.*gradient of shape \[\] for input input0 of shape \[2\]/);
    const none = defineOp({ name: 'none', forward: (t) => t.mul(1), backward: () => [] });
    expect(() => none(x).sum().backward()).toThrow(/backward of op 'none'.*returned no gradient for input input0/);
  });

  it('rejects a malformed definition', () => {
    expect(() => defineOp({ name: '', forward: (t) => t, backward: () => [] })).toThrow(/name must be a non-empty string/);
    expect(() => defineOp({ name: 'half' } as never)).toThrow(/'half' needs a forward function/);
  });
});

describe('detectAnomaly', () => {
  it('throws at the first op whose output is not finite, naming it', () => {
    const x = tensor([1, 0, 2], { requiresGrad: true });
    expect(() => detectAnomaly(() => x.log())).toThrow(/op 'log' produced -Infinity in its output \(shape \[3\]\) at index \[1\]/);
    expect(x.log().data[1]).toBe(-Infinity);
  });

  it('throws at the first backward that produces a non-finite gradient, naming the op', () => {
    const x = tensor([0, 4], { requiresGrad: true, name: 'x' });
    expect(() => detectAnomaly(() => x.sqrt().sum().backward())).toThrow(/backward of op 'sqrt'.*produced Infinity in the gradient for input x .* at index \[0\]/);
  });

  it('leaves results alone when everything is finite', () => {
    const x = randn([3], { seed: 1, requiresGrad: true });
    detectAnomaly(() => x.exp().sum().backward());
    expect(x.grad?.toArray()).toEqual(x.exp().toArray());
    expect(ones([2]).toArray()).toEqual([1, 1]);
  });
});

describe('gradient buffers are never shared between tensors', () => {
  // Regression: add passes its gradient object to both inputs; an in-place accumulation into
  // one input's gradient must not reach the other's.
  it('gives each input its own gradient when a pass-through gradient is accumulated later', () => {
    const w = tensor([1, 2, 3]);
    const k = tensor([100, 100, 100]);
    const u = tensor([1, 1, 1], { requiresGrad: true });
    const v = tensor([2, 2, 2], { requiresGrad: true });
    const t = u.add(v);
    const loss = u.mul(k).sum().add(t.mul(w).sum().add(t.mul(t).sum()));
    // dL/dv = w + 2t = [7, 8, 9]; dL/du = k + w + 2t.
    const [gu, gv] = grad(loss, [u, v]);
    expect(gv.toArray()).toEqual([7, 8, 9]);
    expect(gu.toArray()).toEqual([107, 108, 109]);
    loss.backward();
    expect(v.grad?.toArray()).toEqual([7, 8, 9]);
    expect(u.grad?.toArray()).toEqual([107, 108, 109]);
    expect(u.grad?.data).not.toBe(v.grad?.data);
  });

  it('keeps retained intermediate gradients apart from the leaves', () => {
    const x = tensor([1, 2, 6], { requiresGrad: true });
    const w = tensor([1, 1, 1]);
    const c = x.sub(x.mean()).retainGrad();
    c.mul(w).sum().add(c.square().sum()).backward();
    // c = [-2, -1, 3]: dL/dc = w + 2c = [-3, -1, 7]; dL/dx = dL/dc - mean(dL/dc) = [-4, -2, 6].
    expect(c.grad?.toArray()).toEqual([-3, -1, 7]);
    expect(x.grad?.toArray()).toEqual([-4, -2, 6]);
  });

  it('hands out gradients that can be changed in place without touching one another', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    a.add(b).sum().backward();
    a.grad!.data[0] = 99;
    expect(b.grad?.toArray()).toEqual([1, 1]);
  });
});

describe('retained gradients', () => {
  it('equal grad() of each intermediate, for every step of an explicit BN graph', () => {
    const x = randn([4, 3], { seed: 11, requiresGrad: true });
    const gamma = randn([3], { seed: 12, requiresGrad: true });
    const beta = randn([3], { seed: 13, requiresGrad: true });
    const mu = x.mean(0, { keepdims: true });
    const centred = x.sub(mu);
    const variance = centred.square().mean(0, { keepdims: true });
    const sigma = variance.add(1e-5).sqrt();
    const normalized = centred.div(sigma);
    const y = normalized.mul(gamma).add(beta);
    const upstream = randn([4, 3], { seed: 14 });
    const steps = { mu, centred, variance, sigma, normalized, x, gamma, beta };
    const expected = Object.fromEntries(Object.entries(steps).map(([name, t]) => [name, grad(y, t, { gradOutputs: [upstream] })[0]]));
    y.backward(upstream, { retainGrads: true });
    for (const [name, t] of Object.entries(steps)) {
      const want = expected[name].data;
      t.grad!.data.forEach((value, i) => expect(value, `${name}[${i}]`).toBeCloseTo(want[i], 12));
    }
  });
});

describe('the order backward runs the nodes in', () => {
  // Each node runs once every use of its output has sent its gradient: random graphs whose
  // intermediates are reused by later ops (and by other outputs) check the count.
  const step = fc.record({ op: fc.constantFrom('add', 'mul', 'sub'), a: fc.nat(), b: fc.nat() });

  it('gives the gradient a reference sum over every path, on random graphs with shared intermediates', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (steps, picks) => {
      const build = (x: Tensor, y: Tensor) => {
        const values = [x, y];
        for (const { op, a, b } of steps) {
          const left = values[a % values.length];
          const right = values[b % values.length];
          values.push(op === 'add' ? left.add(right) : op === 'mul' ? left.mul(right).mul(0.5) : left.sub(right));
        }
        return picks.map((p) => values[values.length - 1 - (p % values.length)]);
      };
      const x = tensor([0.3, -0.7], { requiresGrad: true });
      const y = tensor([1.1, 0.4], { requiresGrad: true });
      const outputs = build(x, y);
      const seeds = outputs.map((_, i) => tensor([1 + i, 2 - i]));
      const [gx, gy] = grad(outputs, [x, y], { gradOutputs: seeds, allowUnused: true });
      // The reference: differentiate each output alone (no node shared between passes) and add.
      const alone = outputs.map((_, i) => {
        const fresh = [tensor([0.3, -0.7], { requiresGrad: true }), tensor([1.1, 0.4], { requiresGrad: true })];
        return grad(build(fresh[0], fresh[1])[i], fresh, { gradOutputs: [seeds[i]], allowUnused: true });
      });
      [gx, gy].forEach((g, input) => {
        const want = alone.reduce((sum, gs) => sum.map((v, k) => v + gs[input].storage[k]), [0, 0]);
        g.storage.forEach((v, k) => expect(v).toBeCloseTo(want[k], 10));
      });
    }), { numRuns: 300, seed: 12 });
  });

  it('lets a custom backward differentiate a graph it shares with the pass that calls it', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const shared = x.mul(x);
    // The custom op's backward asks for d(shared)/dx itself, walking nodes the outer pass is counting.
    const scaled = defineOp({
      name: 'scaled',
      forward: (t) => t.mul(3),
      backward: (_ctx, g) => [g.mul(3)],
    });
    const inner = defineOp({
      name: 'inner',
      forward: (t) => t.add(0),
      backward: (_ctx, g) => {
        const [d] = grad(shared, x, { gradOutputs: [ones([2])] });
        return [g.add(d.mul(0))];
      },
    });
    // d/dx (x² + 3x²) = 8x, whichever of the two uses of `shared` the outer pass runs first.
    expect(grad(inner(shared).sum().add(scaled(shared).sum()), x)[0].toArray()).toEqual([8, 16]);
    expect(grad(scaled(shared).sum().add(inner(shared).sum()), x)[0].toArray()).toEqual([8, 16]);
  });

  it('runs an output that another output uses only after that use has sent its gradient', () => {
    const x = tensor([2], { requiresGrad: true });
    const a = x.mul(x);
    const b = a.mul(3);
    // d/dx (a + b) = 2x + 6x; a listed twice counts twice.
    expect(grad([a, b], x, { gradOutputs: [tensor([1]), tensor([1])] })[0].item()).toBe(16);
    expect(grad([b, a, a], x, { gradOutputs: [tensor([1]), tensor([1]), tensor([1])] })[0].item()).toBe(20);
  });
});
