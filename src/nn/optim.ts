import { Tensor } from '../tensor/tensor.js';
import { describeValue } from '../validate.js';

/*
 * Optimizers update parameters in place, on their data, outside the graph (like PyTorch's
 * under torch.no_grad()). Parameters whose .grad is null (not reached by backward) are skipped.
 */

export abstract class Optimizer {
  readonly parameters: readonly Tensor[];

  constructor(name: string, parameters: readonly Tensor[], readonly lr: number) {
    if (!Array.isArray(parameters) || parameters.length === 0) throw new Error(`${name}: needs a non-empty array of parameters, e.g. model.parameters()`);
    parameters.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${name}: parameter ${i} is not a Tensor`);
      if (!p.requiresGrad) throw new Error(`${name}: parameter ${i}${p.name ? ` (${p.name})` : ''} does not require grad, so it would never be updated`);
      // PyTorch: "can't optimize a non-leaf Tensor". Its values are remade by every forward pass.
      if (p.node !== null) {
        throw new Error(`${name}: parameter ${i}${p.name ? ` (${p.name})` : ''} is not a leaf: op '${p.node.op.name}' computed it, so the next forward pass would overwrite any update; pass the leaf tensors it was computed from`);
      }
    });
    if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`${name}: lr must be a finite number > 0, got ${describeValue(lr)}`);
    this.parameters = [...parameters];
  }

  /** Refuses a hyperparameter that would turn the parameters into NaN or run them off. */
  protected static checked(name: string, option: string, value: number, valid: (v: number) => boolean, range: string): number {
    if (typeof value !== 'number' || Number.isNaN(value) || !valid(value)) {
      throw new Error(`${name}: ${option} must be ${range}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value) ?? typeof value}`);
    }
    return value;
  }

  zeroGrad(): void {
    for (const p of this.parameters) p.zeroGrad();
  }

  step(): void {
    this.parameters.forEach((p, i) => {
      // Through .data, so a graph recorded before the step refuses to run backward after it.
      if (p.grad !== null) this.update(p.data, p.grad.storage, i);
    });
  }

  /** Moves the values of parameter `index` using its gradient. */
  protected abstract update(values: Float64Array, grad: Float64Array, index: number): void;
}

export interface SGDOptions {
  lr: number;
  /** PyTorch's form: v ← momentum·v + g, then p ← p − lr·v. */
  momentum?: number;
  /** L2 penalty: g ← g + weightDecay·p. */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;
  private readonly velocity: Float64Array[];

  constructor(parameters: readonly Tensor[], options: SGDOptions) {
    super('SGD', parameters, options?.lr);
    this.momentum = Optimizer.checked('SGD', 'momentum', options.momentum ?? 0, (v) => v >= 0 && v < Infinity, 'a finite number >= 0');
    this.weightDecay = Optimizer.checked('SGD', 'weightDecay', options.weightDecay ?? 0, (v) => v >= 0 && v < Infinity, 'a finite number >= 0');
    this.velocity = this.parameters.map((p) => new Float64Array(p.size));
  }

  protected update(values: Float64Array, grad: Float64Array, index: number): void {
    const v = this.velocity[index];
    for (let i = 0; i < values.length; i++) {
      const g = grad[i] + this.weightDecay * values[i];
      v[i] = this.momentum * v[i] + g;
      values[i] -= this.lr * v[i];
    }
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam (Kingma & Ba 2015) with bias correction, as `torch.optim.Adam`. */
export class Adam extends Optimizer {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly firstMoment: Float64Array[];
  private readonly secondMoment: Float64Array[];
  private steps = 0;

  constructor(parameters: readonly Tensor[], options: AdamOptions = {}) {
    super('Adam', parameters, options.lr ?? 1e-3);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`Adam: betas must be an array of two numbers, got ${JSON.stringify(betas) ?? typeof betas}`);
    // A beta of 1 makes the bias correction 1 − β^t zero: 0/0 = NaN in every parameter.
    const inUnitInterval = (v: number) => v >= 0 && v < 1;
    this.betas = [
      Optimizer.checked('Adam', 'betas[0]', betas[0], inUnitInterval, 'in [0, 1)'),
      Optimizer.checked('Adam', 'betas[1]', betas[1], inUnitInterval, 'in [0, 1)'),
    ];
    this.eps = Optimizer.checked('Adam', 'eps', options.eps ?? 1e-8, (v) => v >= 0 && v < Infinity, 'a finite number >= 0');
    this.weightDecay = Optimizer.checked('Adam', 'weightDecay', options.weightDecay ?? 0, (v) => v >= 0 && v < Infinity, 'a finite number >= 0');
    this.firstMoment = this.parameters.map((p) => new Float64Array(p.size));
    this.secondMoment = this.parameters.map((p) => new Float64Array(p.size));
  }

  override step(): void {
    this.steps++;
    super.step();
  }

  protected update(values: Float64Array, grad: Float64Array, index: number): void {
    const [beta1, beta2] = this.betas;
    const m = this.firstMoment[index];
    const v = this.secondMoment[index];
    const correction1 = 1 - beta1 ** this.steps;
    const correction2 = 1 - beta2 ** this.steps;
    for (let i = 0; i < values.length; i++) {
      const g = grad[i] + this.weightDecay * values[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      values[i] -= (this.lr * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + this.eps);
    }
  }
}
