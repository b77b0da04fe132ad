import { beforeBufferWrite } from '../autograd/mode.js';
import { formatShape } from '../tensor/shape.js';
import { ones, Tensor, zeros } from '../tensor/tensor.js';
import { batchNormInference, batchNormWithStatistics } from './batchnorm.js';
import { checkOptions, describeValue } from '../validate.js';
import { batchNormFused } from './batchnorm-fused.js';
import { kernels } from '../backend/index.js';
import { channelLayout, checkEps } from './layout.js';
import { Module, moduleName } from './module.js';

export interface BatchNormModuleOptions {
  /** Added to the variance under the square root. Default 1e-5. */
  eps?: number;
  /**
   * Weight of the new batch in the running averages: running = (1 − momentum)·running + momentum·batch.
   * Default 0.1. null makes them cumulative averages over every batch so far (weight 1/numBatchesTracked), as in PyTorch.
   */
  momentum?: number | null;
  /** Learn gamma (scale) and beta (shift). Default true; false leaves x̂ as it is. */
  affine?: boolean;
  /** Draw the variance step as 'square' then 'variance' (see batchNorm). */
  primitives?: boolean;
  /**
   * Normalize a training batch with `batchNormFused` (one node, closed-form backward; about 2×
   * faster) instead of the explicit graph, which stays the default because pictures show its steps.
   */
  fused?: boolean;
  name?: string;
}

/**
 * Batch normalization as a module, with PyTorch's conventions. In training mode it normalizes
 * with the batch's mean and biased variance (the explicit graph of `batchNorm`) and updates the
 * running statistics; in eval mode it normalizes with the running statistics instead.
 *
 * The running variance averages the *unbiased* batch variance (divided by m − 1, m values per
 * channel), as PyTorch does, while the batch itself is normalized with the biased one (divided
 * by m), as in the paper's training algorithm. runningMean starts at 0, runningVar at 1.
 */
abstract class BatchNorm extends Module {
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;
  /** Buffers: state, not learned, so not parameters. */
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** How many training batches have updated the running statistics (a 0-d buffer, saved in the state dict). */
  readonly numBatchesTracked: Tensor;
  readonly eps: number;
  readonly momentum: number | null;
  readonly primitives: boolean;
  readonly fused: boolean;

  constructor(
    name: string,
    readonly numFeatures: number,
    /** The input shapes this module accepts: their lengths, and how the error message writes them. */
    private readonly accepts: { readonly ranks: readonly number[]; readonly describe: (channels: number) => string },
    options: BatchNormModuleOptions,
  ) {
    super(moduleName(name, options));
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${name}: numFeatures must be a positive integer, got ${describeValue(numFeatures)}`);
    const { eps = 1e-5, momentum = 0.1, affine = true, primitives = false, fused = false } = checkOptions(name, options, ['eps', 'momentum', 'affine', 'primitives', 'fused', 'name']);
    checkEps(name, eps);
    if (momentum !== null && !(typeof momentum === 'number' && momentum >= 0 && momentum <= 1)) throw new Error(`${name}: momentum must be between 0 and 1, got ${describeValue(momentum)} (or null, for a cumulative average)`);
    if (fused && primitives) throw new Error(`${name}: fused and primitives do not go together: the fused node has no steps to split`);
    this.eps = eps;
    this.momentum = momentum;
    this.primitives = primitives;
    this.fused = fused;
    this.gamma = affine ? ones([numFeatures], { isParameter: true, name: 'gamma' }) : null;
    this.beta = affine ? zeros([numFeatures], { isParameter: true, name: 'beta' }) : null;
    this.runningMean = new Tensor(new Float64Array(numFeatures), [numFeatures], { name: 'runningMean', isBuffer: true });
    this.runningVar = new Tensor(new Float64Array(numFeatures).fill(1), [numFeatures], { name: 'runningVar', isBuffer: true });
    this.numBatchesTracked = new Tensor(new Float64Array(1), [], { name: 'numBatchesTracked', isBuffer: true });
  }

  forward(x: Tensor): Tensor {
    if (!this.accepts.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new Error(`${this.name}: expected x of shape ${this.accepts.describe(this.numFeatures)}, got ${formatShape(x.shape)}`);
    }
    if (!this.training) {
      return batchNormInference(x, this.runningMean, this.runningVar, this.gamma, this.beta, { eps: this.eps });
    }
    if (this.fused) {
      const layout = channelLayout(this.name, x, { batchStatistics: true });
      const gamma = this.gamma ?? ones([this.numFeatures]), beta = this.beta ?? zeros([this.numFeatures]);
      const output = batchNormFused(x, gamma, beta, { eps: this.eps });
      // The statistics again, without ε: 1/invStd² is then the biased variance itself.
      const { mean, invStd } = kernels().channelMoments(x.storage, layout.channels, layout.spatial, 0);
      this.updateRunningStatistics(mean, invStd.map((v) => 1 / (v * v)), layout.count);
      return output;
    }
    const { output, mean, variance } = batchNormWithStatistics(x, this.gamma, this.beta, { eps: this.eps, primitives: this.primitives });
    this.updateRunningStatistics(mean.storage, variance.storage, x.size / this.numFeatures);
    return output;
  }

  private updateRunningStatistics(batchMean: Float64Array, batchVariance: Float64Array, count: number): void {
    const batches = ++this.numBatchesTracked.data[0];
    const m = this.momentum ?? 1 / batches;
    const unbiased = count / (count - 1);
    // Through .data: an eval-mode graph that saved them sees the change at its backward.
    const runningMean = this.runningMean.data;
    const runningVar = this.runningVar.data;
    beforeBufferWrite(runningMean);
    beforeBufferWrite(runningVar);
    for (let c = 0; c < this.numFeatures; c++) {
      runningMean[c] = (1 - m) * runningMean[c] + m * batchMean[c];
      runningVar[c] = (1 - m) * runningVar[c] + m * batchVariance[c] * unbiased;
    }
  }
}

/** Batch norm over [N, C] (features) or [N, C, L] (channels over N and L), like `torch.nn.BatchNorm1d`. */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) {
    super('BatchNorm1d', numFeatures, { ranks: [2, 3], describe: (c) => `[N, ${c}] or [N, ${c}, L]` }, options);
  }
}

/** Batch norm over [N, C, H, W], per channel over N, H and W, like `torch.nn.BatchNorm2d`. */
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) {
    super('BatchNorm2d', numFeatures, { ranks: [4], describe: (c) => `[N, ${c}, H, W]` }, options);
  }
}
