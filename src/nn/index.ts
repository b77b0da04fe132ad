export { batchNorm, batchNormInference, batchNormFused, BN_STEPS, ADD_EPS_LABEL, SQUARE_LABEL, type BatchNormOptions, type BatchNormStep } from './batchnorm.js';
