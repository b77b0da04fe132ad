import { isGradEnabled } from '../autograd/mode.js';
import { applyOp, type OpDefinition } from '../autograd/op.js';
import { SIGMOID_OF_X, SOFTPLUS_OF_X } from '../ops/elementwise.js';
import { compileBinary } from '../ops/kernels.js';
import { formatShape, sameShape } from '../tensor/shape.js';
import { expectTensor, Tensor } from '../tensor/tensor.js';

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

/** Per element, with x a logit and y its target: the loss softplus(x) − x·y, and its x-derivative σ(x) − y. */
const logitLosses = compileBinary(`(${SOFTPLUS_OF_X}) - x * y`);
const logitSlopes = compileBinary(`(${SIGMOID_OF_X}) - y`);

const bceWithLogitsOp: OpDefinition<{ readonly count: number }> = {
  name: 'binaryCrossEntropyWithLogits',
  label: 'BCE with logits',
  inputNames: ['logits', 'targets'],
  formula: ({ inputs: [, y], plain, grad, size }, { count }) => [
    `${grad} · (σ(${plain.inputs[0]}) − ${y}) / ${size(count)}`,
    `−${grad} · ${plain.inputs[0]} / ${size(count)}`,
  ],
  forward([z, y], { count }) {
    const losses = logitLosses(z.storage, z.shape, y.storage, y.shape, z.shape, 'binaryCrossEntropyWithLogits');
    let sum = 0;
    for (let i = 0; i < losses.length; i++) sum += losses[i];
    return { data: Float64Array.of(sum / count), shape: [] };
  },
  backward({ inputs: [z, y], attrs: { count }, needsInputGrad }, g) {
    if (isGradEnabled()) {
      // Recorded (createGraph): tensor ops, so the gradient can be differentiated again.
      const scale = g.div(count);
      return [needsInputGrad[0] ? z.sigmoid().sub(y).mul(scale) : null, needsInputGrad[1] ? z.mul(scale).neg() : null];
    }
    const scale = g.storage[0] / count;
    const dz = needsInputGrad[0] ? logitSlopes(z.storage, z.shape, y.storage, y.shape, z.shape, 'binaryCrossEntropyWithLogits') : null;
    if (dz) for (let i = 0; i < dz.length; i++) dz[i] *= scale;
    const dy = needsInputGrad[1] ? z.storage.map((v) => -v * scale) : null;
    return [dz && new Tensor(dz, z.shape), dy && new Tensor(dy, y.shape)];
  },
};

/**
 * The mean binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed from the
 * logits as softplus(z) − z·y, which never takes the log of a sigmoid that rounded to 0 or 1.
 * One node (the MLP's loss costs one op, not five); its gradient is (σ(z) − y)/n.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor): Tensor {
  checkSameShape('binaryCrossEntropyWithLogits', logits, targets);
  return applyOp(bceWithLogitsOp, [logits, targets], { count: logits.size });
}
