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

const images = gg.randn([1, 2, 4, 4], { seed: 2 });

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
  ['conv2d', "conv2d: unknown option 'group'; did you mean 'groups'?", () => gg.conv2d(images, gg.ones([1, 2, 3, 3]), null, { group: 1 } as never)],
  ['unfold', "unfold: unknown option 'dilatation'; did you mean 'dilation'?", () => gg.unfold(images, 2, { dilatation: 1 } as never)],
  ['fold', "fold: unknown option 'pad'", () => gg.fold(gg.ones([1, 4, 9]), 4, 2, { pad: 0 } as never)],
  ['maxPool2d', "maxPool2d: unknown option 'dilation' (known: 'stride', 'padding')", () => gg.maxPool2d(images, 2, { dilation: 1 } as never)],
  ['avgPool2d', "avgPool2d: unknown option 'count_include_pad' (known: 'stride', 'padding')", () => gg.avgPool2d(images, 2, { count_include_pad: false } as never)],
  ['layerNorm', "layerNorm: unknown option 'elementwiseAffine' (known: 'eps')", () => gg.layerNorm(x, 2, null, null, { elementwiseAffine: false } as never)],
  ['groupNorm', "groupNorm: unknown option 'epsilon' (known: 'eps')", () => gg.groupNorm(images, 1, null, null, { epsilon: 1 } as never)],
  ['instanceNorm', "instanceNorm: unknown option 'momentum' (known: 'eps')", () => gg.instanceNorm(images, null, null, { momentum: 0.1 } as never)],
  ['rmsNorm', "rmsNorm: unknown option 'esp'; did you mean 'eps'?", () => gg.rmsNorm(x, 2, null, { esp: 1 } as never)],
  ['Conv2d', "Conv2d: unknown option 'paddin'; did you mean 'padding'?", () => new gg.Conv2d(1, 1, 3, { paddin: 1 } as never)],
  ['MaxPool2d', "MaxPool2d: unknown option 'strides'; did you mean 'stride'?", () => new gg.MaxPool2d(2, { strides: 2 } as never)],
  ['BatchNorm2d', "BatchNorm2d: unknown option 'trackRunningStats'", () => new gg.BatchNorm2d(2, { trackRunningStats: false } as never)],
  ['LayerNorm', "LayerNorm: unknown option 'elementwiseAffine'", () => new gg.LayerNorm(2, { elementwiseAffine: false } as never)],
  ['Dropout', "Dropout: unknown option 'inplace' (known: 'seed', 'name')", () => new gg.Dropout(0.5, { inplace: true } as never)],
  ['Flatten', "Flatten: unknown option 'startDim' (known: 'startAxis', 'endAxis', 'name')", () => new gg.Flatten({ startDim: 1 } as never)],
  ['Softmax', "Softmax: unknown option 'dim'", () => new gg.Softmax(1, { dim: 1 } as never)],
  ['loadStateDict', "Linear.loadStateDict: unknown option 'strct'; did you mean 'strict'?", () => new gg.Linear(1, 1).loadStateDict({}, { strct: false } as never)],
];

describe('options objects are checked', () => {
  it.each(calls)('%s names the unknown option and the nearest known one', (_name, message, call) => {
    expect(call).toThrow(message);
  });
});
