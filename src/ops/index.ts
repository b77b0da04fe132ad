export {
  add, sub, mul, div, pow, neg, sqrt, exp, log, abs, square, relu, sigmoid, softplus, tanh,
  sign, sin, cos, log1p, expm1, reciprocal, rsqrt, erf, minimum, maximum,
} from './elementwise.js';
export { leakyRelu, elu, gelu } from './activations.js';
export { clamp, where } from './select.js';
export { sum, mean, meanSquare, max, min, argmax, argmin, type ReduceOptions } from './reduce.js';
export { variance, std, logsumexp, type VarianceOptions } from './statistics.js';
export { softmax, logSoftmax, nllLoss, crossEntropy, type LossOptions, type Reduction } from './classification.js';
export { reshape, transpose, permute, squeeze, unsqueeze, flatten, clone } from './shape.js';
export { cat, stack, split, narrow } from './join.js';
export { gather } from './indexing.js';
export { matmul, dot } from './matmul.js';
export { broadcastTo, sumTo, unbroadcast } from './broadcast.js';
