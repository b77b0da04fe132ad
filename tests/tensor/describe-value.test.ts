import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeValue } from '../../src/tensor/describe-value.js';
import { BatchNorm1d, batchNorm, gradcheck, Linear, miniBatches, ones, randn, render, SGD, tensor, twoMoons, zeros } from '../../src/index.js';

describe('describeValue', () => {
  it('tells a number from the string that prints like it, and names NaN, Infinity and -0', () => {
    expect(describeValue(3)).toBe('3');
    expect(describeValue('3')).toBe("the string '3'");
    expect(describeValue('')).toBe("the string ''");
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue(-0)).toBe('-0');
    expect(describeValue(3n)).toBe('the bigint 3n');
  });

  it('names what is not a primitive by its kind', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(true)).toBe('true');
    expect(describeValue([1, 2])).toBe('an array of length 2');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(Object.create(null))).toBe('an object');
    expect(describeValue(tensor([1]))).toBe('a Tensor');
    expect(describeValue(new Float64Array(2))).toBe('a Float64Array');
    expect(describeValue(new Map())).toBe('a Map');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue(Symbol('s'))).toBe('a symbol');
  });

  it('keeps a long or multi-line string short and on one line', () => {
    expect(describeValue('x'.repeat(100))).toBe(`the string '${'x'.repeat(40)}…'`);
    expect(describeValue('a\nb')).toBe("the string 'a\\nb'");
  });

  it('never throws and never breaks the line, whatever it is given', () => {
    fc.assert(fc.property(fc.anything(), (value) => {
      expect(describeValue(value)).not.toMatch(/\n/);
    }));
  });
});

/* Item 16 of issue 9: "got 3" for the string '3' sent users looking for a wrong number. */
describe('error messages say what they got', () => {
  const x = randn([4, 2], { seed: 0 });
  const cases: [string, () => unknown, string][] = [
    ['Linear', () => new Linear('3' as never, 2), "Linear: inFeatures must be a positive integer, got the string '3'"],
    ['BatchNorm1d', () => new BatchNorm1d('3' as never), "BatchNorm1d: numFeatures must be a positive integer, got the string '3'"],
    ['batchNorm eps', () => batchNorm(x, ones([2]), zeros([2]), { eps: '1e-5' as never }), "batchNorm: eps must be a finite number >= 0, got the string '1e-5'"],
    ['twoMoons', () => twoMoons({ n: '10' as never }), "twoMoons: n must be an integer >= 2, got the string '10'"],
    ['miniBatches', () => miniBatches(twoMoons({ n: 10 }), '2' as never, { seed: 0 }), "miniBatches: batchSize must be a positive integer, got the string '2'"],
    ['SGD', () => new SGD([ones([1], { requiresGrad: true })], { lr: Number.NaN }), 'SGD: lr must be a finite number > 0, got NaN'],
    ['gradcheck', () => gradcheck((a) => a.sum(), [x], { eps: '1e-6' as never }), "gradcheck: eps must be a finite number > 0, got the string '1e-6'"],
    ['randn', () => randn([2], { seed: '1' as never }), "randn: seed must be an integer, got the string '1'"],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => expect(call).toThrow(message));
  }

  it('render', async () => {
    await expect(render('digraph { a }', { format: 'png', scale: '2' as never })).rejects.toThrow("render: scale must be a finite number > 0, got the string '2'");
  });
});
