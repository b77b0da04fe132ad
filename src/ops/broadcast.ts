import { applyOp, type OpDefinition } from '../autograd/op.js';
import { Tensor } from '../tensor/tensor.js';
import { assertValidShape, broadcastsTo, formatShape, reducedShape, sameShape, type Shape } from '../tensor/shape.js';
import { broadcastCopy, compileReduce } from './kernels.js';

/*
 * broadcastTo and sumTo are each other's gradient. `unbroadcast` is the one place that sums a
 * broadcast gradient back to an input's shape; every broadcasting op calls it.
 */

const sumKernel = compileReduce('0', 'acc + x');

const broadcastToOp: OpDefinition<{ shape: Shape }> = {
  name: 'broadcastTo',
  inputNames: ['x'],
  label: 'broadcast',
  forward([x], { shape }) {
    return { data: broadcastCopy(x.data, x.shape, shape), shape };
  },
  backward({ inputs: [x] }, g) {
    return [sumTo(g, x.shape)];
  },
};

const sumToOp: OpDefinition<{ shape: Shape }> = {
  name: 'sumTo',
  inputNames: ['x'],
  label: 'sum to shape',
  forward([x], { shape }) {
    const offset = x.ndim - shape.length;
    const axes: number[] = [];
    for (let axis = 0; axis < x.ndim; axis++) {
      if (axis < offset || (shape[axis - offset] === 1 && x.shape[axis] !== 1)) axes.push(axis);
    }
    // Reduced axes keep a 1 where `shape` has one, and vanish where `shape` has no axis.
    const kept = reducedShape(x.shape, axes, true).slice(offset);
    return { data: sumKernel(x.data, x.shape, axes), shape: kept };
  },
  backward({ inputs: [x] }, g) {
    return [broadcastTo(g, x.shape)];
  },
};

/** Broadcasts `x` to `shape` by NumPy rules, copying (the result owns its data). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  assertValidShape('broadcastTo', shape);
  if (!broadcastsTo(x.shape, shape)) {
    throw new Error(`broadcastTo: cannot broadcast x of shape ${formatShape(x.shape)} to shape ${formatShape(shape)}`);
  }
  return applyOp(broadcastToOp, [x], { shape: [...shape] });
}

/** Sums `x` down to `shape`, which must broadcast to x's shape: the adjoint of broadcastTo. */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (!broadcastsTo(shape, x.shape)) {
    throw new Error(`sumTo: x of shape ${formatShape(x.shape)} cannot be summed to shape ${formatShape(shape)}, which does not broadcast to it`);
  }
  return applyOp(sumToOp, [x], { shape: [...shape] });
}

/** A gradient computed in a broadcast shape, summed back to the shape of the input it belongs to. */
export function unbroadcast(grad: Tensor, shape: Shape): Tensor {
  return sameShape(grad.shape, shape) ? grad : sumTo(grad, shape);
}
