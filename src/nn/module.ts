import { withScope } from '../autograd/mode.js';
import { expectTensor, Tensor } from '../tensor/tensor.js';
import { loadState, saveState, type LoadStateOptions, type StateDict } from './state-dict.js';
import { describeValue } from '../validate.js';

/**
 * A layer or a network, like `torch.nn.Module`. Its parameters are the tensors among its own
 * properties marked `isParameter`; its children are the modules among them (or in an array of
 * them), so a subclass only assigns fields, in the order `parameters()` should list them.
 *
 * Run it with `call(x)`, not `forward(x)`: `call` records every op of the forward pass under a
 * scope named after the module (nested inside its parent's), which pictures draw as a box.
 */
/**
 * The `name` option of a module's constructor, or its class name: read before `super()`, so an
 * options argument that is not an object (null) is refused here with the module's name.
 */
export function moduleName(fn: string, options: { readonly name?: string } | undefined): string {
  if (options === undefined) return fn;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${fn}: options must be an object, got ${describeValue(options)}`);
  }
  return options.name ?? fn;
}

export abstract class Module {
  /** Training mode (the default) or eval mode; BatchNorm normalizes with batch statistics only when training. */
  training = true;
  /** The scope the module's ops are recorded under. */
  name: string;

  constructor(name: string) {
    if (typeof name !== 'string' || name === '') throw new Error(`${new.target.name}: name must be a non-empty string, got ${describeValue(name)}`);
    this.name = name;
  }

  abstract forward(x: Tensor): Tensor;

  call(x: Tensor): Tensor {
    expectTensor(this.constructor.name, 'x', x);
    return withScope(this.name, () => this.forward(x));
  }

  /** The modules directly inside this one, in field order. */
  children(): Module[] {
    return this.namedChildren().map(([, child]) => child);
  }

  /** The modules directly inside this one with their field names (`fc1`; `blocks.0` for an array field), in field order. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).flatMap(([key, value]: [string, unknown]): [string, Module][] => {
      if (value instanceof Module) return [[key, value]];
      if (Array.isArray(value)) return value.flatMap((item, i): [string, Module][] => (item instanceof Module ? [[`${key}.${i}`, item]] : []));
      return [];
    });
  }

  /** Every learned tensor of this module and the modules inside it, each once, in field order. */
  parameters(): Tensor[] {
    return [...new Set(this.namedParameters().map(([, p]) => p))];
  }

  /** The parameters with dotted paths (`fc1.weight`), as PyTorch's named_parameters: a tensor shared by two modules is listed once, under its first path. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors((t) => t.isParameter);
  }

  /** The state that is not learned, the tensors marked `isBuffer` (BatchNorm's running statistics), with dotted paths. */
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors((t) => t.isBuffer);
  }

  private namedTensors(keep: (t: Tensor) => boolean, prefix = '', seen = new Set<Tensor>()): [string, Tensor][] {
    const found: [string, Tensor][] = [];
    for (const [key, value] of Object.entries(this) as [string, unknown][]) {
      if (value instanceof Tensor && keep(value) && !seen.has(value)) {
        seen.add(value);
        found.push([prefix + key, value]);
      }
    }
    for (const [key, child] of this.namedChildren()) found.push(...child.namedTensors(keep, `${prefix}${key}.`, seen));
    return found;
  }

  /** Parameters and buffers by dotted path, as plain JSON (`{ shape, data }` each): what a saved model is. */
  stateDict(): StateDict {
    return saveState([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies a state dict's values into this module's parameters and buffers, in place. Like
   * PyTorch's strict load, a missing or unexpected key or a wrong shape is an error that names
   * it, and nothing is changed; `{ strict: false }` loads the keys both have.
   */
  loadStateDict(state: StateDict, options?: LoadStateOptions): this {
    loadState(`${this.name}.loadStateDict`, [...this.namedParameters(), ...this.namedBuffers()], state, options);
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Sets training mode here and in every module inside. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}
