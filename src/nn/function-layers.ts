import { logSoftmax, softmax } from '../ops/classification.js';
import { flatten } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOptions } from '../validate.js';
import { Module, moduleName } from './module.js';

/* Ops without parameters as modules, so a Sequential can hold them and a picture boxes them. */

/** torch.nn.Flatten: axes startAxis..endAxis into one; by default all but the batch axis ([N, C, H, W] → [N, C·H·W]). */
export class Flatten extends Module {
  readonly startAxis: number;
  readonly endAxis: number;

  constructor(options: { startAxis?: number; endAxis?: number; name?: string } = {}) {
    super(moduleName('Flatten', options));
    const { startAxis = 1, endAxis = -1 } = checkOptions('Flatten', options, ['startAxis', 'endAxis', 'name']);
    this.startAxis = startAxis;
    this.endAxis = endAxis;
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis, this.endAxis);
  }
}

/** torch.nn.Softmax along `axis`. */
export class Softmax extends Module {
  constructor(readonly axis: number, options: { name?: string } = {}) {
    super(checkOptions('Softmax', options, ['name']).name ?? 'Softmax');
  }

  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }
}

/** torch.nn.LogSoftmax along `axis`. */
export class LogSoftmax extends Module {
  constructor(readonly axis: number, options: { name?: string } = {}) {
    super(checkOptions('LogSoftmax', options, ['name']).name ?? 'LogSoftmax');
  }

  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }
}
