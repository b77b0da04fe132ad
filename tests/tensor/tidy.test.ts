import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Adam, BatchNorm1d, Linear, ReLU, Sequential, batchNorm, batchNormFused, binaryCrossEntropyWithLogits, emptyPool, grad, keep,
  pooledMemoryBytes, randn, tensor, tidy, twoMoons, type Tensor,
} from 'gradgraph';

/* tidy(): what fn made and did not return is released and its buffers reused; nothing kept is touched. */

const BIG = 4096; // POOL_MIN_VALUES: smaller tensors are not tracked

const values = (t: Tensor) => Array.from(t.storage);

describe('tidy', () => {
  // Each test starts with an empty pool, whatever the last one left or how it ended.
  afterEach(() => {
    emptyPool();
  });

  it('releases what fn made and did not return, and reuses its buffers for the next results', () => {
    const x = randn([64, 64], { seed: 1 });
    let inner: Tensor | undefined;
    const returned = tidy(() => {
      inner = x.mul(2);
      return inner.add(1);
    });
    expect(inner!.isReleased).toBe(true);
    expect(returned.isReleased).toBe(false);
    expect(x.isReleased).toBe(false);
    const freed = inner!;
    expect(() => freed.storage).toThrow(
      "a tensor of shape [64, 64] was released when the tidy() that made it ended; return it from that tidy() (or from a function it calls) or keep() it to use it afterwards",
    );
    expect(() => freed.add(1)).toThrow('was released when the tidy() that made it ended');
    expect(String(freed)).toBe('Tensor(released by tidy(), shape=[64, 64])');
    expect(freed.size).toBe(BIG);
    // The released buffer is the next result's.
    const before = pooledMemoryBytes();
    expect(before).toBeGreaterThanOrEqual(BIG * 8);
    const next = x.mul(3);
    expect(pooledMemoryBytes()).toBe(before - BIG * 8);
    expect(values(next)).toEqual(values(x).map((v) => v * 3));
    expect(values(returned)).toEqual(values(x).map((v) => v * 2 + 1));
  });

  it('names the tensor and the op that made it in the error', () => {
    const x = randn([BIG], { seed: 2 });
    let kept: Tensor | undefined;
    tidy(() => {
      kept = x.exp();
      kept.name = 'activations';
    });
    expect(() => kept!.sum()).toThrow("tensor 'activations' of shape [4096] was released when the tidy() that made it ended");
  });

  it('gives the same numbers as running without it, step after step (fused and explicit BN)', () => {
    const x = randn([64, 128], { seed: 3, requiresGrad: true });
    const gamma = randn([128], { seed: 4, requiresGrad: true });
    const beta = randn([128], { seed: 5, requiresGrad: true });
    const dout = randn([64, 128], { seed: 6 });
    for (const bn of [batchNormFused, batchNorm]) {
      const step = () => grad(bn(x, gamma, beta), [x, gamma, beta], { gradOutputs: [dout] }).map(values);
      const reference = step();
      for (let i = 0; i < 4; i++) {
        // The released buffers of each step are written again by the next one.
        expect(tidy(step)).toEqual(reference);
        expect(pooledMemoryBytes()).toBeGreaterThan(0);
      }
    }
  });

  it('keeps what the returned tensors graphs reach, so a returned loss can still be differentiated', () => {
    const x = randn([64, 64], { seed: 7, requiresGrad: true });
    const f = () => x.mul(x).sin().sum();
    f().backward();
    const expected = values(x.grad!);
    x.zeroGrad();
    const loss = tidy(f);
    tidy(() => randn([64, 64], { seed: 8 }).mul(5)); // reuses whatever the first tidy released
    loss.backward();
    expect(values(x.grad!)).toEqual(expected);
  });

  it('keeps gradients stored in .grad, and accumulates into them across scopes', () => {
    const w = randn([64, 64], { seed: 9, requiresGrad: true });
    const x = randn([64, 64], { seed: 10 });
    const loss = () => w.mul(x).tanh().sum();
    loss().backward();
    loss().backward();
    const twice = values(w.grad!);
    w.zeroGrad();
    tidy(() => loss().backward());
    tidy(() => loss().backward());
    tidy(() => randn([64, 64], { seed: 11 }).add(1));
    expect(values(w.grad!)).toEqual(twice);
  });

  it('never reuses a buffer handed out through .data, nor the buffer of an older tensor a view shares', () => {
    const x = randn([BIG], { seed: 12 });
    let array: Float64Array | undefined;
    tidy(() => {
      array = x.mul(2).data;
      x.reshape([64, 64]).detach();
    });
    tidy(() => x.mul(-7));
    tidy(() => x.mul(-9));
    expect(Array.from(array!)).toEqual(values(x).map((v) => v * 2));
    expect(x.isReleased).toBe(false);
    expect(Array.from(x.storage)).toEqual(Array.from(randn([BIG], { seed: 12 }).storage));
  });

  it('nests: an inner scope returns to the outer one, which releases it unless it returns it too', () => {
    const x = randn([BIG], { seed: 13 });
    let inner: Tensor | undefined;
    let middle: Tensor | undefined;
    const outer = tidy(() => {
      middle = tidy(() => {
        inner = x.add(1);
        return inner.mul(2);
      });
      expect(inner!.isReleased).toBe(true);
      expect(middle.isReleased).toBe(false);
      return { result: [middle.add(3)] };
    });
    expect(middle!.isReleased).toBe(true);
    expect(values(outer.result[0])).toEqual(values(x).map((v) => (v + 1) * 2 + 3));
  });

  it('keeps what keep() marks, tensors in returned Maps and Sets, and small tensors untouched', () => {
    const x = randn([BIG], { seed: 14 });
    let marked: Tensor | undefined;
    let small: Tensor | undefined;
    const found = tidy(() => {
      marked = keep(x.add(1));
      small = tensor([1, 2, 3]).mul(2);
      return { map: new Map([['a', x.mul(2)]]), set: new Set([x.mul(3)]) };
    });
    expect(marked!.isReleased).toBe(false);
    expect(small!.isReleased).toBe(false);
    expect(values(found.map.get('a')!)).toEqual(values(x).map((v) => v * 2));
    expect(values([...found.set][0])).toEqual(values(x).map((v) => v * 3));
    tidy(() => x.mul(0));
    expect(values(marked!)).toEqual(values(x).map((v) => v + 1));
  });

  it('releases nothing when fn throws or returns a Promise, and says why', () => {
    const x = randn([BIG], { seed: 15 });
    let made: Tensor | undefined;
    expect(() => tidy(() => {
      made = x.mul(2);
      throw new Error('boom');
    })).toThrow('boom');
    expect(made!.isReleased).toBe(false);
    expect(() => tidy(async () => (made = x.mul(3)))).toThrow(
      'tidy: fn returned a Promise; tidy() releases what fn made when fn returns, so fn must be synchronous (nothing was released)',
    );
    expect(made!.isReleased).toBe(false);
    expect(() => tidy(42 as never)).toThrow('tidy: fn must be a function, got 42');
    expect(() => keep('x' as never)).toThrow("keep: t must be a Tensor, got the string 'x'");
  });

  it('trains a network to the same parameters and running statistics as without it', () => {
    const data = twoMoons({ n: 128, noise: 0.1, seed: 1 });
    const train = (inScope: boolean) => {
      const model = new Sequential([new Linear(2, 64, { seed: 1 }), new BatchNorm1d(64, { fused: true }), new ReLU(), new Linear(64, 1, { seed: 2 })]);
      const optimizer = new Adam(model.parameters(), { lr: 1e-2 });
      const step = () => {
        optimizer.zeroGrad();
        binaryCrossEntropyWithLogits(model.call(data.x), data.y).backward();
        optimizer.step();
      };
      for (let i = 0; i < 5; i++) {
        if (inScope) tidy(step);
        else step();
      }
      return model.stateDict();
    };
    const plain = train(false);
    expect(train(true)).toEqual(plain);
  });

  it('holds one step of buffers in the pool however many steps run', () => {
    const x = randn([128, 64], { seed: 17, requiresGrad: true });
    const step = () => tidy(() => x.mul(x).tanh().sum().backward());
    const pooledAfter = (steps: number) => {
      for (let i = 0; i < steps; i++) step();
      return pooledMemoryBytes();
    };
    const afterFew = pooledAfter(3);
    expect(afterFew).toBeGreaterThan(0);
    expect(pooledAfter(50)).toBe(afterFew);
    emptyPool();
    expect(pooledMemoryBytes()).toBe(0);
  });

  it('gives the same results as without it for random programs of ops, whatever each step returns', () => {
    const unary = ['exp', 'tanh', 'sin', 'neg', 'abs', 'square', 'relu'] as const;
    fc.assert(fc.property(
      fc.array(fc.record({ op: fc.constantFrom(...unary, 'add', 'mul', 'sum'), other: fc.nat(5) }), { minLength: 1, maxLength: 8 }),
      fc.nat(10), fc.boolean(),
      (program, keepIndex, differentiate) => {
        const x = randn([64, 64], { seed: 16, requiresGrad: true });
        const run = () => {
          const made: Tensor[] = [x];
          for (const { op, other } of program) {
            const last = made[made.length - 1];
            if (op === 'add' || op === 'mul') made.push(last[op](made[other % made.length]));
            else if (op === 'sum') made.push(last.sum(0, { keepdims: true }).add(last));
            else made.push(last[op]());
          }
          const kept = made[keepIndex % made.length];
          const gradient = differentiate ? grad(made[made.length - 1].sum(), [x])[0] : null;
          return { kept, gradient };
        };
        const reference = run();
        const expected = { kept: values(reference.kept), gradient: reference.gradient && values(reference.gradient) };
        for (let i = 0; i < 3; i++) {
          const got = tidy(run);
          expect({ kept: values(got.kept), gradient: got.gradient && values(got.gradient) }).toEqual(expected);
        }
        emptyPool();
      },
    ), { numRuns: 40 });
  });
});
