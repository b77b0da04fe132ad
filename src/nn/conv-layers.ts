import { conv2d, type Conv2dOptions } from '../ops/conv.js';
import { avgPool2d, maxPool2d, type PoolOptions } from '../ops/pool.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue, expectInteger } from '../validate.js';
import { uniformInitializer } from './layers.js';
import { Module, moduleName } from './module.js';

type Pair = number | readonly [number, number];

export interface Conv2dModuleOptions extends Conv2dOptions {
  bias?: boolean;
  /** Seeds the initial weights; without one they differ from run to run. */
  seed?: number;
  name?: string;
}

/**
 * torch.nn.Conv2d: weight [outC, inC/groups, kH, kW] and bias [outC], initialized like PyTorch's
 * (uniform in ±1/√fanIn, fanIn = inC/groups·kH·kW).
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  private readonly options: Conv2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: Conv2dModuleOptions = {}) {
    super(moduleName('Conv2d', options));
    const { bias = true, seed, name: _name, ...convOptions } = checkOptions('Conv2d', options, ['stride', 'padding', 'dilation', 'groups', 'bias', 'seed', 'name']);
    expectInteger('Conv2d', 'inChannels', inChannels, { min: 1 });
    expectInteger('Conv2d', 'outChannels', outChannels, { min: 1 });
    if (typeof kernelSize !== 'number' && !(Array.isArray(kernelSize) && kernelSize.length === 2)) {
      throw new Error(`Conv2d: kernelSize must be a positive integer or a pair [h, w] of them, got ${describeValue(kernelSize)}`);
    }
    const [kH, kW] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    expectInteger('Conv2d', 'kernelSize', kH, { min: 1 });
    expectInteger('Conv2d', 'kernelSize', kW, { min: 1 });
    const groups = expectInteger('Conv2d', 'groups', convOptions.groups ?? 1, { min: 1 });
    if (inChannels % groups !== 0 || outChannels % groups !== 0) throw new Error(`Conv2d: groups (${groups}) must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
    const uniform = uniformInitializer(seed, (inChannels / groups) * kH * kW, 'Conv2d');
    this.weight = uniform([outChannels, inChannels / groups, kH, kW], 'weight');
    this.bias = bias ? uniform([outChannels], 'bias') : null;
    this.options = convOptions;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) throw new Error(`${this.name}: expected x of shape [N, ${this.inChannels}, H, W], got ${formatShape(x.shape)}`);
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

abstract class Pool2d extends Module {
  private readonly options: PoolOptions;

  constructor(name: string, private readonly pool: typeof maxPool2d, readonly kernelSize: Pair, options: PoolOptions & { name?: string }) {
    super(moduleName(name, options));
    const { name: _name, ...poolOptions } = checkOptions(name, options, ['stride', 'padding', 'name']);
    this.options = poolOptions;
  }

  forward(x: Tensor): Tensor {
    return this.pool(x, this.kernelSize, this.options);
  }
}

/** torch.nn.MaxPool2d: the maximum of each window (stride defaults to the kernel size). */
export class MaxPool2d extends Pool2d {
  constructor(kernelSize: Pair, options: PoolOptions & { name?: string } = {}) {
    super('MaxPool2d', maxPool2d, kernelSize, options);
  }
}

/** torch.nn.AvgPool2d: the mean of each window, padding zeros included. */
export class AvgPool2d extends Pool2d {
  constructor(kernelSize: Pair, options: PoolOptions & { name?: string } = {}) {
    super('AvgPool2d', avgPool2d, kernelSize, options);
  }
}
