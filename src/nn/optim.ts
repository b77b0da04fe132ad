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
    });
    if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`${name}: lr must be a finite number > 0, got ${describeValue(lr)}`);
    this.parameters = [...parameters];
  }

  zeroGrad(): void {
    for (const p of this.parameters) p.zeroGrad();
  }

  step(): void {
    this.parameters.forEach((p, i) => {
      if (p.grad !== null) this.update(p.data, p.grad.data, i);
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
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
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
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
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
