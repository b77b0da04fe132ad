import { describe, expect, it } from 'vitest';
import { compareElements, compareProjections } from '../../src/checking/differences.js';
import { Random } from '../../src/tensor/random.js';

/* The comparison core on plain arrays: f(x) = x³ elementwise, upstream g = 1, so gᵀJ = 3x². */

const cube = (x: Float64Array) => () => [x.map((v) => v * v * v)];
const derivative = (x: Float64Array) => x.map((v) => 3 * v * v);
const ones = (n: number) => [new Float64Array(n).fill(1)];

describe('compareElements', () => {
  it('passes the right derivative with errors near float64 precision, and leaves x bit for bit as it was', () => {
    const x = Float64Array.of(-0, 1.5, -2, 1e-300, 3);
    const before = new Uint8Array(Float64Array.from(x).buffer).slice();
    const result = compareElements(x, [5], derivative(x), cube(x), ones(5), { eps: 1e-5 });
    expect(result).toMatchObject({ status: 'pass', failures: 0, kinks: 0, elements: 5 });
    expect(result.maxRelError).toBeLessThan(1e-8);
    expect(new Uint8Array(x.buffer)).toEqual(before);
  });

  it('fails one element off by 1e-3 and names it', () => {
    const x = Float64Array.from({ length: 64 }, (_, i) => Math.sin(i) * 2);
    const analytic = derivative(x);
    analytic[41] *= 1.001;
    const result = compareElements(x, [8, 8], analytic, cube(x), ones(64), { eps: 1e-5 });
    expect(result).toMatchObject({ status: 'fail', failures: 1 });
    expect(result.worst?.inputIndex).toEqual([5, 1]);
    expect(result.maxRelError).toBeCloseTo(1e-3, 5);
  });

  it('restores x when evaluating throws', () => {
    const x = Float64Array.of(1, 2);
    let calls = 0;
    const evaluate = () => {
      if (++calls === 3) throw new Error('boom');
      return [x.slice()];
    };
    expect(() => compareElements(x, [2], Float64Array.of(1, 1), evaluate, ones(2), { eps: 1e-5 })).toThrow('boom');
    expect(Array.from(x)).toEqual([1, 2]);
  });
});

describe('compareProjections', () => {
  it('finds one wrong element among 100,000 by halving the projections, in few evaluations', () => {
    const n = 100_000;
    const x = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
    const analytic = derivative(x);
    analytic[77_777] *= 1.001;
    let evaluations = 0;
    const evaluate = () => {
      evaluations++;
      return cube(x)();
    };
    const result = compareProjections(x, [n], analytic, evaluate, ones(n), { eps: 1e-3, elementEps: 1e-5, random: new Random(1) });
    expect(result).toMatchObject({ status: 'fail', failures: 1, elements: n });
    expect(result.worst?.inputIndex).toEqual([77_777]);
    expect(evaluations).toBeLessThan(1000);
    expect(compareProjections(x, [n], derivative(x), cube(x), ones(n), { eps: 1e-3, elementEps: 1e-5, random: new Random(2) }).status).toBe('pass');
  });
});
