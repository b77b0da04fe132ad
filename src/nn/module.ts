import { withScope } from '../autograd/mode.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * A layer or a network, like `torch.nn.Module`. Its parameters are the tensors among its own
 * properties marked `isParameter`; its children are the modules among them (or in an array of
 * them), so a subclass only assigns fields, in the order `parameters()` should list them.
 *
 * Run it with `call(x)`, not `forward(x)`: `call` records every op of the forward pass under a
 * scope named after the module (nested inside its parent's), which pictures draw as a box.
 */
export abstract class Module {
  /** Training mode (the default) or eval mode; BatchNorm normalizes with batch statistics only when training. */
  training = true;
  /** The scope the module's ops are recorded under. */
  name: string;

  constructor(name: string) {
    if (typeof name !== 'string' || name === '') throw new Error(`Module: name must be a non-empty string, got ${JSON.stringify(name)}`);
    this.name = name;
  }

  abstract forward(x: Tensor): Tensor;

  call(x: Tensor): Tensor {
    return withScope(this.name, () => this.forward(x));
  }

  /** The modules directly inside this one, in field order. */
  children(): Module[] {
    return Object.values(this).flatMap((value: unknown) => (Array.isArray(value) ? value : [value])).filter((value): value is Module => value instanceof Module);
  }

  /** Every learned tensor of this module and the modules inside it, each once, in field order. */
  parameters(): Tensor[] {
    const own = Object.values(this).filter((value): value is Tensor => value instanceof Tensor && value.isParameter);
    return [...new Set([...own, ...this.children().flatMap((child) => child.parameters())])];
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
