import { allocate } from '../tensor/allocation.js';
import { Random } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue } from '../validate.js';
import { Module, moduleName } from './module.js';

export interface LinearOptions {
  /** Seeds the initial weights; without one they differ from run to run. */
  seed?: number;
  bias?: boolean;
  name?: string;
}

/**
 * PyTorch's default initialization of Linear and Conv2d (kaiming_uniform with a = √5, which comes
 * to this): weight and bias uniform in ±1/√fanIn, fanIn being the inputs each output sums over.
 */
export function uniformInitializer(seed: number | undefined, fanIn: number, caller: string): (shape: number[], name: string) => Tensor {
  const random = new Random(seed ?? Math.floor(Math.random() * 2 ** 32), caller);
  const bound = 1 / Math.sqrt(fanIn);
  return (shape, name) => {
    const data = allocate('Linear', shape);
    for (let i = 0; i < data.length; i++) data[i] = (2 * random.uniform() - 1) * bound;
    return new Tensor(data, shape, { isParameter: true, name });
  };
}

/**
 * y = x @ weight + bias. The weight is stored as [inFeatures, outFeatures] (PyTorch stores its
 * transpose) so the graph shows one matmul node, no transpose. Initialized like PyTorch's
 * Linear: uniform in ±1/√inFeatures, for weight and bias alike.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super(moduleName('Linear', options));
    for (const [argument, value] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Linear: ${argument} must be a positive integer, got ${describeValue(value)}`);
    }
    const uniform = uniformInitializer(options.seed, inFeatures, 'Linear');
    this.weight = uniform([inFeatures, outFeatures], 'weight');
    this.bias = options.bias === false ? null : uniform([outFeatures], 'bias');
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new Error(`${this.name}: x has shape ${formatShape(x.shape)} but this layer takes ${this.inFeatures} input features on its last axis, as in [N, ${this.inFeatures}]`);
    }
    // Named after the formula, so a picture of a network reads x·W and x·W + b, not bare op symbols.
    const product = x.matmul(this.weight);
    product.name = 'x·W';
    if (this.bias === null) return product;
    const output = product.add(this.bias);
    output.name = 'x·W + b';
    return output;
  }
}

/** An elementwise function as a module, so it has a scope (a box in pictures) like any layer. */
class Activation extends Module {
  constructor(name: string, private readonly fn: (x: Tensor) => Tensor) {
    super(name);
  }

  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Activation {
  constructor(options: { name?: string } = {}) {
    super(moduleName('ReLU', options), (x) => x.relu());
  }
}

export class Sigmoid extends Activation {
  constructor(options: { name?: string } = {}) {
    super(moduleName('Sigmoid', options), (x) => x.sigmoid());
  }
}

export class Tanh extends Activation {
  constructor(options: { name?: string } = {}) {
    super(moduleName('Tanh', options), (x) => x.tanh());
  }
}

/**
 * Modules applied one after the other. Children sharing a name get a number after it, in order
 * ('Linear 1', 'Linear 2'), so each has a scope, and a box, of its own.
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(layers: readonly Module[], options: { name?: string } = {}) {
    super(moduleName('Sequential', options));
    if (!Array.isArray(layers)) throw new Error(`Sequential: layers must be an array of Modules, got ${describeValue(layers)}`);
    layers.forEach((layer: unknown, i) => {
      if (!(layer instanceof Module)) throw new Error(`Sequential: layer ${i} is not a Module, got ${describeValue(layer)}`);
    });
    this.layers = [...layers];
    const total = new Map<string, number>();
    for (const layer of layers) total.set(layer.name, (total.get(layer.name) ?? 0) + 1);
    const seen = new Map<string, number>();
    for (const layer of layers) {
      const name = layer.name;
      if ((total.get(name) ?? 0) < 2) continue;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      layer.name = `${name} ${seen.get(name)}`;
    }
  }

  /** Named by position, as PyTorch's Sequential: `0.weight`, `1.runningMean`. */
  override namedChildren(): [string, Module][] {
    return this.layers.map((layer, i) => [String(i), layer]);
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((value, layer) => layer.call(value), x);
  }
}

/**
 * torch.nn.Dropout: in training, zeroes each element with probability p and scales the rest by
 * 1/(1 − p), so the expected output is x; in eval mode, x itself. Seeded: the same seed draws
 * the same masks, call after call.
 */
export class Dropout extends Module {
  private readonly random: Random;

  constructor(readonly p = 0.5, options: { seed?: number; name?: string } = {}) {
    super(moduleName('Dropout', options));
    checkOptions('Dropout', options, ['seed', 'name']);
    if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a probability from 0 to 1, got ${describeValue(p)}`);
    this.random = new Random(options.seed ?? Math.floor(Math.random() * 2 ** 32), 'Dropout');
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keep = 1 - this.p;
    const mask = new Float64Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = this.random.uniform() < keep ? 1 / keep : 0;
    const output = x.mul(new Tensor(mask, x.shape, { name: 'mask' }));
    output.name = 'dropout';
    return output;
  }
}
