import { applyOp, toTensor, type OpDefinition } from '../autograd/op.js';
import { Tensor, zeros, type TensorLike } from '../tensor/tensor.js';
import { broadcastShapes, formatShape, unravelIndex } from '../tensor/shape.js';
import { describeValue } from '../validate.js';
import { unbroadcast } from './broadcast.js';
import { broadcastCopy } from './kernels.js';

/*
 * Ops that choose between values: clamp and where. What they choose is decided by the values,
 * so it is a constant mask in the gradient, never differentiated itself.
 */

type ClampAttrs = { readonly low: number; readonly high: number };

const clampOp: OpDefinition<ClampAttrs> = {
  name: 'clamp',
  inputNames: ['x'],
  formula: ({ plain, grad }, { low, high }) => [`${grad} · [${low === -Infinity ? '' : `${low} ≤ `}${plain.inputs[0]}${high === Infinity ? '' : ` ≤ ${high}`}]`],
  label: ({ low, high }) => `clamp [${low === -Infinity ? '−∞' : low}, ${high === Infinity ? '∞' : high}]`,
  // Math.max(NaN, low) is NaN, so a NaN stays NaN, as in PyTorch.
  forward: ([x], { low, high }) => ({ data: x.storage.map((v) => Math.min(Math.max(v, low), high)), shape: x.shape }),
  // PyTorch's convention: the gradient passes where low ≤ x ≤ high, the boundaries included.
  backward: ({ inputs: [x], attrs: { low, high } }, g) => [g.mul(new Tensor(x.storage.map((v) => (v >= low && v <= high ? 1 : 0)), x.shape))],
};

/** x limited to [min, max]; either bound may be null for none. With min > max every value becomes max, as in PyTorch. */
export function clamp(x: TensorLike, min: number | null, max: number | null = null): Tensor {
  const input = toTensor('clamp', 'x', x);
  const bound = (argument: string, value: unknown) => {
    if (value === null || value === undefined) return null;
    if (typeof value !== 'number' || Number.isNaN(value)) throw new Error(`clamp: ${argument} must be a number or null, got ${describeValue(value)}`);
    return value;
  };
  const low = bound('min', min);
  const high = bound('max', max);
  if (low === null && high === null) throw new Error('clamp: at least one of min and max must be a number, got null for both');
  return applyOp(clampOp, [input], { low: low ?? -Infinity, high: high ?? Infinity });
}

const whereOp: OpDefinition = {
  name: 'where',
  inputNames: ['condition', 'a', 'b'],
  formula: ({ plain: { inputs: [c] }, grad, sum }) => ['0', `${sum[1]}${grad} · ${c}`, `${sum[2]}${grad} · (1 − ${c})`],
  forward([condition, a, b]) {
    const shape = broadcastShapes('where', broadcastShapes('where', condition.shape, a.shape, ['condition', 'a']), b.shape, ['condition and a', 'b']);
    const c = broadcastCopy(condition.storage, condition.shape, shape);
    const av = broadcastCopy(a.storage, a.shape, shape);
    const bv = broadcastCopy(b.storage, b.shape, shape);
    for (let i = 0; i < c.length; i++) c[i] = c[i] === 1 ? av[i] : bv[i];
    return { data: c, shape };
  },
  backward({ inputs: [condition, a, b], needsInputGrad }, g) {
    const chosen = condition.detach();
    return [
      needsInputGrad[0] ? zeros(condition.shape) : null,
      needsInputGrad[1] ? unbroadcast(g.mul(chosen), a.shape) : null,
      needsInputGrad[2] ? unbroadcast(g.mul(chosen.neg().add(1)), b.shape) : null,
    ];
  },
};

/**
 * a where condition is 1, b where it is 0, all three broadcast together. condition holds only
 * 0s and 1s (there are no boolean tensors) and is not differentiated.
 */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const mask = toTensor('where', 'condition', condition);
  const bad = mask.storage.findIndex((v) => v !== 0 && v !== 1);
  if (bad >= 0) {
    throw new Error(`where: condition must hold only 0 and 1, got ${describeValue(mask.storage[bad])} at ${formatShape(unravelIndex(bad, mask.shape))}`);
  }
  return applyOp(whereOp, [mask, a, b], undefined);
}
