import { BatchNorm1d, Linear, ReLU, SGD, Sequential, binaryCrossEntropyWithLogits, twoMoons } from '../src/index.js';
import { measure, printTable } from './harness.js';

/* Training steps per second of Linear(2, 64) → BatchNorm1d → ReLU → Linear(64, 1), batches of 128. */

export function benchMlp(): void {
  const data = twoMoons({ n: 128, noise: 0.1, seed: 1 });
  const net = (bn: boolean) => new Sequential([
    new Linear(2, 64, { seed: 1 }), ...(bn ? [new BatchNorm1d(64)] : []), new ReLU(), new Linear(64, 1, { seed: 2 }),
  ]);
  const withBn = net(true);
  const withoutBn = net(false);
  const step = (model: Sequential, optimizer: SGD) => () => {
    optimizer.zeroGrad();
    binaryCrossEntropyWithLogits(model.call(data.x), data.y).backward();
    optimizer.step();
  };
  const [a, b] = measure([
    { name: 'with BN', run: step(withBn, new SGD(withBn.parameters(), { lr: 0.05 })) },
    { name: 'without BN', run: step(withoutBn, new SGD(withoutBn.parameters(), { lr: 0.05 })) },
  ], { rounds: 200, warmup: 20 });
  printTable('MLP training steps (batch 128, float64)', [
    ['network', 'ms per step', 'steps per second'],
    ['Linear → BatchNorm1d → ReLU → Linear', a.medianMs.toFixed(3), (1000 / a.medianMs).toFixed(0)],
    ['Linear → ReLU → Linear', b.medianMs.toFixed(3), (1000 / b.medianMs).toFixed(0)],
  ]);
}
