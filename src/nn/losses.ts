import { softplus } from '../ops/elementwise.js';
import { formatShape, sameShape } from '../tensor/shape.js';
import { expectTensor, type Tensor } from '../tensor/tensor.js';

function checkSameShape(op: string, prediction: Tensor, target: Tensor): void {
  expectTensor(op, 'prediction', prediction);
  expectTensor(op, 'target', target);
  if (!sameShape(prediction.shape, target.shape)) {
    throw new Error(`${op}: the prediction has shape ${formatShape(prediction.shape)} but the target has shape ${formatShape(target.shape)}; they must match`);
  }
}

/** mean((prediction − target)²). */
export function mseLoss(prediction: Tensor, target: Tensor): Tensor {
  checkSameShape('mseLoss', prediction, target);
  return prediction.sub(target).square().mean();
}

/**
 * The mean binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed from the
 * logits as softplus(z) − z·y, which never takes the log of a sigmoid that rounded to 0 or 1.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor): Tensor {
  checkSameShape('binaryCrossEntropyWithLogits', logits, targets);
  return softplus(logits).sub(logits.mul(targets)).mean();
}
