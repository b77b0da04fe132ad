export { batchNorm, batchNormInference, batchNormFused, BN_STEPS, ADD_EPS_LABEL, SQUARE_LABEL, type BatchNormOptions, type BatchNormStep } from './batchnorm.js';
export { Module } from './module.js';
export { Linear, ReLU, Sigmoid, Tanh, Sequential, type LinearOptions } from './layers.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormModuleOptions } from './batchnorm-module.js';
export { Optimizer, SGD, Adam, type SGDOptions, type AdamOptions } from './optim.js';
export { mseLoss, binaryCrossEntropyWithLogits } from './losses.js';
export { twoMoons, miniBatches, type Dataset } from './data.js';
export { layerNorm, groupNorm, instanceNorm, rmsNorm, type NormOptions } from './normalization.js';
