export { add, sub, mul, div, pow, neg, sqrt, exp, log, abs, square, relu, sigmoid, softplus, tanh } from './elementwise.js';
export { sum, mean, meanSquare, max, type ReduceOptions } from './reduce.js';
export { reshape, transpose } from './shape.js';
export { matmul } from './matmul.js';
export { broadcastTo, sumTo, unbroadcast } from './broadcast.js';
export { conv2d, unfold, fold, type Conv2dOptions, type ConvOptions } from './conv.js';
export { maxPool2d, avgPool2d, type PoolOptions } from './pool.js';
