import { applyOp, opsOnlyWrap, type OpDefinition } from '../autograd/op.js';
import { expectTensor, Tensor } from '../tensor/tensor.js';
import { assertValidShape, broadcastAxes, broadcastsTo, formatShape, reducedShape, sameShape, sizeOf, type Shape } from '../tensor/shape.js';
import { addBlockSumsOfProducts, addRowSumsOfProducts, blockRun, broadcastCopy, broadcastPattern } from './kernels.js';
import { uninitializedValues } from '../tensor/allocation.js';
import { sumKernel } from './sums.js';

/*
 * broadcastTo and sumTo are each other's gradient. `unbroadcast` is the one place that sums a
 * broadcast gradient back to an input's shape; every broadcasting op calls it (or, for a
 * product, `unbroadcastProduct`, which skips the full-size intermediate).
 */

const broadcastToOp: OpDefinition<{ shape: Shape }> = {
  name: 'broadcastTo',
  inputNames: ['x'],
  label: 'broadcast',
  formula: ({ grad, sum }) => [`${sum[0]}${grad}`],
  forward([x], { shape }) {
    return { data: broadcastCopy(x.storage, x.shape, shape, 'broadcastTo'), shape };
  },
  backward({ inputs: [x] }, g) {
    return [sumTo(g, x.shape)];
  },
};

/** `data` of shape `from` summed down to `to` (which broadcasts to `from`). */
function sumToData(data: Float64Array, from: Shape, to: Shape): { data: Float64Array; shape: Shape } {
  const offset = from.length - to.length;
  const axes = broadcastAxes(to, from);
  // Reduced axes keep a 1 where `to` has one, and vanish where `to` has no axis.
  return { data: sumKernel(data, from, axes), shape: reducedShape(from, axes, true).slice(offset) };
}

const sumToOp: OpDefinition<{ shape: Shape }> = {
  name: 'sumTo',
  inputNames: ['x'],
  label: 'sum to shape',
  formula: ({ grad }) => [grad],
  forward: ([x], { shape }) => sumToData(x.storage, x.shape, shape),
  backward({ inputs: [x] }, g) {
    return [broadcastTo(g, x.shape)];
  },
};

/** Broadcasts `x` to `shape` by NumPy rules, copying (the result owns its data). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  expectTensor('broadcastTo', 'x', x);
  assertValidShape('broadcastTo', shape);
  if (!broadcastsTo(x.shape, shape)) {
    throw new Error(`broadcastTo: cannot broadcast x of shape ${formatShape(x.shape)} to shape ${formatShape(shape)}`);
  }
  return applyOp(broadcastToOp, [x], { shape: [...shape] });
}

/** Sums `x` down to `shape`, which must broadcast to x's shape: the adjoint of broadcastTo. */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  expectTensor('sumTo', 'x', x);
  assertValidShape('sumTo', shape);
  if (!broadcastsTo(shape, x.shape)) {
    throw new Error(`sumTo: x of shape ${formatShape(x.shape)} cannot be summed to shape ${formatShape(shape)}, which does not broadcast to it`);
  }
  return applyOp(sumToOp, [x], { shape: [...shape] });
}

/** A gradient computed in a broadcast shape, summed back to the shape of the input it belongs to. */
export function unbroadcast(grad: Tensor, shape: Shape): Tensor {
  expectTensor('unbroadcast', 'grad', grad);
  assertValidShape('unbroadcast', shape);
  if (!broadcastsTo(shape, grad.shape)) {
    throw new Error(`unbroadcast: grad of shape ${formatShape(grad.shape)} cannot be summed to shape ${formatShape(shape)}, which does not broadcast to it`);
  }
  if (sameShape(grad.shape, shape)) return grad;
  if (!opsOnlyWrap()) return sumTo(grad, shape);
  const { data, shape: summed } = sumToData(grad.storage, grad.shape, shape);
  return new Tensor(data, summed);
}

const sumOfProductsOp: OpDefinition<{ shape: Shape }> = {
  name: 'sumOfProducts',
  inputNames: ['p', 'q'],
  label: 'Σ p·q',
  formula: ({ inputs: [p, q], grad }) => [`${grad} · ${q}`, `${grad} · ${p}`],
  forward([p, q], { shape }) {
    // Rows and blocks (BN's γ and σ gradients over the batch, on [N, C] and [N, C, H, W]): one
    // pass, no full-size product in between; each sum adds its products in input order, as
    // summing the product would.
    const pd = p.storage;
    const qd = q.storage;
    const pattern = broadcastPattern(shape, p.shape);
    if (pattern === 'row' || pattern === 'block') {
      const out = new Float64Array(sizeOf(shape));
      if (pattern === 'row') addRowSumsOfProducts(out, pd, qd);
      else addBlockSumsOfProducts(out, pd, qd, blockRun(shape, p.shape));
      return { data: out, shape };
    }
    const product = uninitializedValues(pd.length);
    for (let i = 0; i < product.length; i++) product[i] = pd[i] * qd[i];
    return sumToData(product, p.shape, shape);
  },
  // Each summed p·q has derivative q (and p); g, of the summed shape, broadcasts back by itself.
  backward: ({ inputs: [p, q], needsInputGrad }, g) => [needsInputGrad[0] ? q.mul(g) : null, needsInputGrad[1] ? p.mul(g) : null],
};

/**
 * unbroadcast(p·q, shape), without the full-size product when it would only be summed: the
 * gradient of a broadcast operand of mul or div is such a product.
 */
export function unbroadcastProduct(p: Tensor, q: Tensor, shape: Shape): Tensor {
  if (sameShape(p.shape, q.shape) && !sameShape(p.shape, shape) && broadcastsTo(shape, p.shape)) {
    return applyOp(sumOfProductsOp, [p, q], { shape: [...shape] });
  }
  return unbroadcast(p.mul(q), shape);
}
