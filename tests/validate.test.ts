import { describe, expect, it } from 'vitest';
import { checkOptions, describeValue, expectFiniteNumber, expectInteger, expectOneOf, nearestName } from '../src/validate.js';
import {
  analyze, backward, BatchNorm1d, batchNorm, broadcastTo, checkRecordedOps, collapseModules, Conv2d, formatShape, grad, gradcheck, gradgradcheck,
  LayerNorm, Linear, miniBatches, mseLoss, noGrad, ones, randn, ReLU, render, Sequential, SGD, sum, sumTo, Tanh, Tensor, tensor, toDot, trace,
  twoMoons, unbroadcast, zeros,
} from 'gradgraph';

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
    ['SGD momentum', () => new SGD([ones([1], { requiresGrad: true })], { lr: 0.1, momentum: '0.9' as never }), "SGD: momentum must be a finite number >= 0, got the string '0.9'"],
    ['checkRecordedOps', () => checkRecordedOps([x.mul(2)], { eps: '1e-6' as never }), "checkRecordedOps: eps must be a finite number > 0, got the string '1e-6'"],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => expect(call).toThrow(message));
  }

  it('render', async () => {
    await expect(render('digraph { a }', { format: 'png', scale: '2' as never })).rejects.toThrow("render: scale must be a finite number > 0, got the string '2'");
  });
});

/* Item 15 of issue 9: these threw raw TypeErrors ("outputs is not iterable", "Cannot read properties of null"). */
describe('wrong arguments are named, not raw TypeErrors', () => {
  const x = randn([3, 2], { seed: 1, requiresGrad: true });
  const y = x.mul(x).sum();
  const data = twoMoons({ n: 8 });
  const cases: [string, () => unknown, string][] = [
    ['grad outputs', () => grad(3 as never, x), 'grad: outputs must be a Tensor or an array of Tensors, got 3'],
    ['grad inputs', () => grad(y, 3 as never), 'grad: inputs must be a Tensor or an array of Tensors, got 3'],
    ['grad input item', () => grad(y, [x, null as never]), 'grad: input 1 must be a Tensor, got null'],
    ['sum axis null', () => sum(x, null as never), 'sum: axis must be a number or an array of numbers, got null'],
    ['batchNorm options null', () => batchNorm(x, null as never, null as never, null as never), 'batchNorm: '],
    ['toDot options null', () => toDot(y, null as never), 'toDot: options must be an object, got null'],
    ['toDot title', () => toDot(y, { title: {} as never }), 'toDot: option title must be a string, got an object'],
    ['toDot flag', () => toDot(y, { legend: 'yes' as never }), "toDot: option legend must be true or false, got the string 'yes'"],
    ['toDot unknown option', () => toDot(y, { titel: 'x' } as never), "toDot: unknown option 'titel'; did you mean 'title'?"],
    ['toDot dims', () => toDot(y, { dims: { N: '4' } as never }), "toDot: dims.N must be a positive integer, got the string '4'"],
    ['trace unknown option', () => trace(y, { grads: true } as never), "trace: unknown option 'grads'"],
    ['miniBatches no options', () => miniBatches(data, 2, undefined as never), 'miniBatches: options { seed } are required, got undefined'],
    ['miniBatches data', () => miniBatches(null as never, 2, { seed: 0 }), 'miniBatches: data must be a Dataset { x, y } of Tensors, got null'],
    ['miniBatches seed', () => miniBatches(data, 2, { seed: 'a' as never }), "miniBatches: seed must be an integer, got the string 'a'"],
    ['twoMoons options', () => twoMoons(null as never), 'twoMoons: options must be an object, got null'],
    ['Linear seed', () => new Linear(2, 2, { seed: 'a' as never }), "Linear: seed must be an integer, got the string 'a'"],
    // Found by tests/api-guard.test.ts.
    ['Tensor constructor', () => new Tensor([1, 2] as never, [2]), 'Tensor: storage must be a Float64Array (tensor() takes arrays), got an array of length 2'],
    ['Tensor shape', () => new Tensor(new Float64Array(2), 2 as never), 'Tensor: shape must be an array of non-negative integers, got 2'],
    ['tensor options', () => tensor([1], null as never), 'tensor: options must be an object, got null'],
    ['zeros unknown option', () => zeros([2], { seed: 1 } as never), "zeros: unknown option 'seed'"],
    // JSON.stringify throws on a bigint (and on a recorded Tensor's graph) while the message is written.
    ['a shape JSON cannot show', () => zeros([2n] as never), 'zeros: shape must be an array of non-negative integers, got an array of length 1'],
    ['Sequential layers', () => new Sequential(3 as never), 'Sequential: layers must be an array of Modules, got 3'],
    ['LayerNorm shape', () => new LayerNorm(x as never), 'LayerNorm: normalizedShape must be a positive integer or an array of them, got a Tensor'],
    ['module options null', () => new Tanh(null as never), 'Tanh: options must be an object, got null'],
    ['module name', () => new ReLU({ name: '' }), "ReLU: name must be a non-empty string, got the string ''"],
    ['Conv2d kernelSize', () => new Conv2d(1, 3, undefined as never), 'Conv2d: kernelSize must be a positive integer or a pair [h, w] of them, got undefined'],
    ['mseLoss', () => mseLoss('1' as never, x), "mseLoss: prediction must be a Tensor, got the string '1'"],
    ['sumTo', () => sumTo(x, 3 as never), 'sumTo: shape must be an array of non-negative integers, got 3'],
    ['unbroadcast', () => unbroadcast(tensor(1), [0]), 'unbroadcast: grad of shape [] cannot be summed to shape [0]'],
    ['broadcastTo', () => broadcastTo(null as never, [2]), 'broadcastTo: x must be a Tensor, got null'],
    ['backward', () => backward(undefined as never), 'backward: output must be a Tensor, got undefined'],
    ['noGrad', () => noGrad(3 as never), 'noGrad: fn must be a function, got 3'],
    ['gradgradcheck', () => gradgradcheck(0 as never, [x]), 'gradgradcheck: fn must be a function, got 0'],
    ['analyze', () => analyze([] as never), 'analyze: graph must be what trace() returns, got an array of length 0'],
    ['collapseModules', () => collapseModules(x as never), 'collapseModules: graph must be what trace() returns, got a Tensor'],
    ['toDot array item', () => toDot([y, -1 as never]), 'toDot: output 1 must be a Tensor, got -1'],
    ['Module call', () => new Linear(2, 3, { seed: 0 }).call('1' as never), "Linear: x must be a Tensor, got the string '1'"],
    ['formatShape', () => formatShape(undefined as never), 'formatShape: shape must be an array, got undefined'],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => expect(call).toThrow(message));
  }
});
