export { Tensor, tensor, zeros, ones, full, randn, rand } from './tensor/tensor.js';
export type { TensorLike, NestedArray, TensorOptions, FactoryOptions, RandomOptions } from './tensor/tensor.js';
export { formatShape, broadcastShapes, type Shape } from './tensor/shape.js';
export * from './ops/index.js';
export { backward, grad, type BackwardOptions, type GradOptions } from './autograd/engine.js';
export { noGrad, detectAnomaly, withScope, isGradEnabled } from './autograd/mode.js';
export { defineOp, GraphNode, type OpDefinition, type BackwardContext, type CustomOp } from './autograd/op.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckReport, type InputReport, type WorstElement } from './checking/gradcheck.js';
export * from './graph/index.js';
