import { applyOp, type OpDefinition } from '../autograd/op.js';
import { isGradEnabled } from '../autograd/mode.js';
import { meanSquare } from '../ops/reduce.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions } from '../validate.js';
import { kernels, type Moments } from '../backend/index.js';
import { alongChannels, channelLayout, checkEps, checkPerChannel, guardZeroVariance, perChannel, type ChannelLayout } from './layout.js';

/*
 * Batch norm as one node, for speed: the forward and the first backward are the backend's
 * kernels (src/backend: WebAssembly SIMD, or plain loops). When the backward is itself recorded
 * (createGraph), it is written with tensor ops instead, so the gradient can be differentiated
 * again. Both agree with the explicit graph
 * of batchnorm.ts, which is what the tests hold them to.
 */

interface FusedAttrs {
  readonly eps: number;
  readonly layout: ChannelLayout;
}

const KEEP = { keepdims: true } as const;

/**
 * The batch statistics each forward computed, by the buffer of the output it made: the backward
 * reads them instead of two more passes over x. Keyed by that output, which is what a backward
 * is given with its inputs, a forward run again on other values (checkRecordedOps does) finds
 * its own; and the saved-values check makes sure x is still what that forward saw.
 */
const statistics = new WeakMap<Float64Array, Moments>();

/** The same closed form as the kernels' `batchNormBackward`, in tensor ops: recorded, so differentiable again. */
function recordedGradients(x: Tensor, gamma: Tensor, g: Tensor, { eps, layout }: FusedAttrs): [Tensor, Tensor, Tensor] {
  const { axes, count } = layout;
  const centered = x.sub(x.mean(axes, KEEP));
  const { safe, zeroed } = guardZeroVariance(meanSquare(centered, axes, KEEP).add(eps));
  const invStd = zeroed(safe.pow(-0.5));
  const normalized = centered.mul(invStd);
  const gSum = g.sum(axes, KEEP);
  const gNormalizedSum = g.mul(normalized).sum(axes, KEEP);
  const dx = g.sub(gSum.div(count)).sub(normalized.mul(gNormalizedSum.div(count))).mul(invStd.mul(alongChannels(gamma, layout)));
  return [dx, perChannel(gNormalizedSum, layout), perChannel(gSum, layout)];
}

const batchNormFusedOp: OpDefinition<FusedAttrs> = {
  name: 'batchNormFused',
  label: 'batch norm (fused)',
  inputNames: ['x', 'gamma', 'beta'],
  // The closed form of batchNormBackward, with x̂ and σ the batch's normalized x and deviation.
  formula: ({ inputs: [, gamma], grad, sumOver, size }, { layout }) => {
    const sum = sumOver(layout.axes);
    const n = size(layout.count);
    return [
      `${gamma} / σ · (${grad} − ${sum}${grad} / ${n} − x̂ · ${sum}${grad} · x̂ / ${n})`,
      `${sum}${grad} · x̂`,
      `${sum}${grad}`,
    ];
  },
  forward([x, gamma, beta], { eps, layout }) {
    const { output, moments } = kernels().batchNormForward(x.storage, gamma.storage, beta.storage, layout.spatial, eps);
    statistics.set(output, moments);
    return { data: output, shape: x.shape };
  },
  backward(ctx, g) {
    const [x, gamma, beta] = ctx.inputs;
    const { attrs, needsInputGrad } = ctx;
    let grads: [Tensor, Tensor, Tensor];
    if (isGradEnabled()) {
      grads = recordedGradients(x, gamma, g, attrs);
    } else {
      const { layout, eps } = attrs;
      const moments = statistics.get(ctx.output.storage) ?? kernels().channelMoments(x.storage, layout.channels, layout.spatial, eps);
      const d = kernels().batchNormBackward(g.storage, x.storage, gamma.storage, moments, layout.spatial);
      grads = [new Tensor(d.x, x.shape), new Tensor(d.gamma, gamma.shape), new Tensor(d.beta, beta.shape)];
    }
    return grads.map((grad, i) => (needsInputGrad[i] ? grad : null));
  },
};

/**
 * The same function as `batchNorm` (batch statistics, biased variance), as one node labelled
 * 'batch norm (fused)' whose backward is the closed-form BN gradient. It agrees with the
 * explicit graph to rounding (1e-12 relative) and can be differentiated twice.
 */
export function batchNormFused(x: Tensor, gamma: Tensor, beta: Tensor, options: { eps?: number } = {}): Tensor {
  return batchNormFusedWithMoments(x, gamma, beta, options).output;
}

/** `batchNormFused`, and the batch's moments it normalized with: a BatchNorm module's running statistics come from them. */
export function batchNormFusedWithMoments(x: Tensor, gamma: Tensor, beta: Tensor, options: { eps?: number } = {}): { output: Tensor; moments: Moments } {
  const { eps = 1e-5 } = checkOptions('batchNormFused', options, ['eps']);
  checkEps('batchNormFused', eps);
  const layout = channelLayout('batchNormFused', x, { batchStatistics: true });
  for (const [argument, value] of [['gamma', gamma], ['beta', beta]] as const) {
    if (!(value instanceof Tensor)) throw new Error(`batchNormFused: ${argument} must be a Tensor (use ones/zeros for no scale or shift), got ${value === null ? 'null' : typeof value}`);
    checkPerChannel('batchNormFused', argument, value, x, layout);
  }
  const output = applyOp(batchNormFusedOp, [x, gamma, beta], { eps, layout });
  return { output, moments: statistics.get(output.storage)! };
}
