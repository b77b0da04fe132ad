import { formatShape } from '../tensor/shape.js';
import { ones, zeros, type Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue, expectInteger } from '../validate.js';
import { checkEps } from './layout.js';
import { Module, moduleName } from './module.js';
import { groupNorm, layerNorm } from './normalization.js';

export interface NormModuleOptions {
  eps?: number;
  /** Learn gamma (ones) and beta (zeros). Default true. */
  affine?: boolean;
  name?: string;
}

/** gamma (ones) and beta (zeros) of `shape` when affine, else null for both. */
function affineParameters(fn: string, shape: number[], options: NormModuleOptions): { gamma: Tensor | null; beta: Tensor | null; eps: number } {
  const { eps = 1e-5, affine = true } = checkOptions(fn, options, ['eps', 'affine', 'name']);
  checkEps(fn, eps);
  return {
    gamma: affine ? ones(shape, { isParameter: true, name: 'gamma' }) : null,
    beta: affine ? zeros(shape, { isParameter: true, name: 'beta' }) : null,
    eps,
  };
}

/** torch.nn.LayerNorm: each example normalized over its last axes (normalizedShape), with gamma and beta of that shape. */
export class LayerNorm extends Module {
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;
  readonly eps: number;
  readonly normalizedShape: readonly number[];

  constructor(normalizedShape: number | readonly number[], options: NormModuleOptions = {}) {
    super(moduleName('LayerNorm', options));
    if (typeof normalizedShape !== 'number' && !Array.isArray(normalizedShape)) {
      throw new Error(`LayerNorm: normalizedShape must be a positive integer or an array of them, got ${describeValue(normalizedShape)}`);
    }
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.normalizedShape.forEach((d) => expectInteger('LayerNorm', 'normalizedShape', d, { min: 1 }));
    ({ gamma: this.gamma, beta: this.beta, eps: this.eps } = affineParameters('LayerNorm', [...this.normalizedShape], options));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.gamma, this.beta, { eps: this.eps });
  }
}

/** torch.nn.GroupNorm: x [N, C, ...], each example's groups of C/numGroups channels normalized together; gamma, beta [C]. */
export class GroupNorm extends Module {
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;
  readonly eps: number;

  constructor(readonly numGroups: number, readonly numChannels: number, options: NormModuleOptions = {}) {
    super(moduleName('GroupNorm', options));
    expectInteger('GroupNorm', 'numGroups', numGroups, { min: 1 });
    expectInteger('GroupNorm', 'numChannels', numChannels, { min: 1 });
    if (numChannels % numGroups !== 0) throw new Error(`GroupNorm: numGroups (${numGroups}) must divide numChannels (${numChannels})`);
    ({ gamma: this.gamma, beta: this.beta, eps: this.eps } = affineParameters('GroupNorm', [numChannels], options));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) throw new Error(`${this.name}: expected x of shape [N, ${this.numChannels}, ...], got ${formatShape(x.shape)}`);
    return groupNorm(x, this.numGroups, this.gamma, this.beta, { eps: this.eps });
  }
}
