import { kernels, worthSimdKernels } from '../backend/index.js';
import { sizeOf } from '../tensor/shape.js';
import { compileReduce, type ReduceKernel } from './kernels.js';

/*
 * The sums every op takes (sum, mean, a broadcast gradient summed back, the statistics): a
 * compiled loop, except over the leading axes of a large input with more than one output, where
 * the kernels in use add it up (a SIMD sweep on WebAssembly: BN's mean over the batch, 0.3× the
 * time of the loop at 256×1024). Both start from 0 and add the rows in order, so the results are
 * the same to the bit (tested).
 */

function leadingSums(kernel: ReduceKernel, squared: boolean): ReduceKernel {
  return (input, shape, axes) => {
    const leading = axes.length > 0 && axes.every((axis, i) => axis === i);
    const channels = sizeOf(shape.slice(axes.length));
    if (!leading || channels < 2 || !worthSimdKernels(input.length)) return kernel(input, shape, axes);
    return kernels().channelSums(input, channels, squared);
  };
}

/** Σx over `axes`. */
export const sumKernel = leadingSums(compileReduce('0', 'acc + x'), false);
/** Σx² over `axes`. */
export const sumOfSquaresKernel = leadingSums(compileReduce('0', 'acc + x * x'), true);
