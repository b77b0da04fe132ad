import { describe, expect, it } from 'vitest';
import { checkOptions, describeValue, expectFiniteNumber, expectInteger, expectOneOf, nearestName } from '../src/validate.js';
import { BatchNorm1d, batchNorm, gradcheck, Linear, miniBatches, ones, randn, render, SGD, sum, tensor, twoMoons, zeros } from 'gradgraph';

describe('describeValue', () => {
  it('says what a value is, not how String() prints it', () => {
    expect(describeValue('3')).toBe("the string '3'");
    expect(describeValue(3)).toBe('3');
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue([1, 2])).toBe('an array of length 2');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(new Map())).toBe('an object of class Map');
    expect(describeValue(tensor([1]))).toBe('a Tensor');
    expect(describeValue(() => 1)).toBe('a function');
  });
});

describe('checkOptions', () => {
  it('names an unknown key and the known key nearest to it', () => {
    expect(() => checkOptions<{ keepdims?: boolean }>('sum', { keepdim: true } as never, ['keepdims'])).toThrow("sum: unknown option 'keepdim'; did you mean 'keepdims'?");
    expect(() => checkOptions<{ alpha?: number; beta?: number }>('f', { zzz: 1 } as never, ['alpha', 'beta'])).toThrow("f: unknown option 'zzz' (known: 'alpha', 'beta')");
  });

  it('refuses options that are not an object', () => {
    expect(() => checkOptions('f', null as unknown as object, [])).toThrow('f: options must be an object, got null');
    expect(() => checkOptions('f', 3 as unknown as object, [])).toThrow('f: options must be an object, got 3');
  });

  it('a reduction refuses a misspelt option instead of ignoring it', () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(() => x.sum(1, { keepdim: true } as never)).toThrow("sum: unknown option 'keepdim'; did you mean 'keepdims'?");
    expect(sum(x, 1, { keepdims: true }).shape).toEqual([2, 1]);
  });
});

describe('expect*', () => {
  it('names the function, the argument and what it got', () => {
    expect(() => expectInteger('f', 'axis', '1')).toThrow("f: axis must be an integer, got the string '1'");
    expect(() => expectInteger('f', 'n', 0, { min: 1 })).toThrow('f: n must be a positive integer, got 0');
    expect(() => expectFiniteNumber('f', 'eps', NaN, { min: 0 })).toThrow('f: eps must be a finite number >= 0, got NaN');
    expect(() => expectOneOf('f', 'mode', 'x', ['a', 'b'])).toThrow("f: mode must be one of 'a', 'b', got the string 'x'");
    expect(nearestName('keepdim', ['keepdims', 'axis'])).toBe('keepdims');
    expect(nearestName('completelydifferent', ['axis'])).toBeUndefined();
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
