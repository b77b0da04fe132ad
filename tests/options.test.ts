import { describe, expect, it } from 'vitest';
import * as gg from 'gradgraph';

/*
 * Every public function that takes an options object refuses a key it does not know, naming
 * the nearest known one: a misspelt option silently ignored gives a wrong result with no word
 * said (`x.sum(1, { keepdim: true })` used to return the wrong shape).
 */

const x = gg.randn([3, 2], { seed: 1, requiresGrad: true });
const target = gg.tensor([0, 1, 1]);
const parameter = gg.ones([2]);

const calls: [string, string, () => unknown][] = [
  ['sum', "sum: unknown option 'keepdim'; did you mean 'keepdims'?", () => x.sum(1, { keepdim: true } as never)],
  ['mean', "mean: unknown option 'keepdim'; did you mean 'keepdims'?", () => gg.mean(x, 0, { keepdim: true } as never)],
  ['max', "max: unknown option 'keepDim'; did you mean 'keepdims'?", () => x.max(0, { keepDim: true } as never)],
  ['min', "min: unknown option 'keepdim'; did you mean 'keepdims'?", () => x.min(0, { keepdim: true } as never)],
  ['argmax', "argmax: unknown option 'keepdim'; did you mean 'keepdims'?", () => x.argmax(0, { keepdim: true } as never)],
  ['argmin', "argmin: unknown option 'keepdim'; did you mean 'keepdims'?", () => gg.argmin(x, 0, { keepdim: true } as never)],
  ['logsumexp', "logsumexp: unknown option 'keepdim'; did you mean 'keepdims'?", () => x.logsumexp(1, { keepdim: true } as never)],
  ['variance', "variance: unknown option 'unbiased' (known: 'keepdims', 'correction')", () => x.variance(0, { unbiased: false } as never)],
  ['std', "std: unknown option 'corection'; did you mean 'correction'?", () => x.std(0, { corection: 0 } as never)],
  ['crossEntropy', "crossEntropy: unknown option 'reductio'; did you mean 'reduction'?", () => gg.crossEntropy(x, target, { reductio: 'sum' } as never)],
  ['nllLoss', "nllLoss: unknown option 'weight' (known: 'reduction')", () => gg.nllLoss(x, target, { weight: parameter } as never)],
  ['batchNorm', "batchNorm: unknown option 'epsilon' (known: 'eps', 'primitives')", () => gg.batchNorm(x, parameter, parameter, { epsilon: 1e-3 } as never)],
  ['batchNormInference', "batchNormInference: unknown option 'momentum' (known: 'eps')", () => gg.batchNormInference(x, parameter, parameter, null, null, { momentum: 0.1 } as never)],
  ['batchNormFused', "batchNormFused: unknown option 'esp'; did you mean 'eps'?", () => gg.batchNormFused(x, parameter, parameter, { esp: 1e-3 } as never)],
  ['backward', "backward: unknown option 'retainGraph'; did you mean 'retainGrads'?", () => x.sum().backward(undefined, { retainGraph: true } as never)],
  ['grad', "grad: unknown option 'create_graph'; did you mean 'createGraph'?", () => gg.grad(x.sum(), x, { create_graph: true } as never)],
];

describe('options objects are checked', () => {
  it.each(calls)('%s names the unknown option and the nearest known one', (_name, message, call) => {
    expect(call).toThrow(message);
  });
});
