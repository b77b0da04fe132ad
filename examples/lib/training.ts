import { binaryCrossEntropyWithLogits, miniBatches, noGrad, type Dataset, type Module, type Optimizer, type Tensor } from 'gradgraph';

/*
 * What the examples share: one epoch of mini-batch training, the loss on a whole dataset, and
 * the check that makes an example exit non-zero when its claim does not hold.
 */

export type Loss = (prediction: Tensor, target: Tensor) => Tensor;

/** One pass over `data` in shuffled mini-batches; returns the mean training loss of the batches. */
export function trainEpoch(model: Module, data: Dataset, optimizer: Optimizer, options: { batchSize: number; seed: number; loss?: Loss }): number {
  const loss = options.loss ?? binaryCrossEntropyWithLogits;
  model.train();
  let total = 0;
  const batches = miniBatches(data, options.batchSize, { seed: options.seed });
  for (const batch of batches) {
    optimizer.zeroGrad();
    const value = loss(model.call(batch.x), batch.y);
    value.backward();
    optimizer.step();
    total += value.item();
  }
  return total / batches.length;
}

/** The loss over the whole dataset in eval mode (running statistics), without recording. */
export function evaluate(model: Module, data: Dataset, loss: Loss = binaryCrossEntropyWithLogits): number {
  model.eval();
  const value = noGrad(() => loss(model.call(data.x), data.y)).item();
  model.train();
  return value;
}

/** The share of examples whose logit has the sign of the label (label 1 ⇔ logit > 0). */
export function accuracy(model: Module, data: Dataset): number {
  model.eval();
  const logits = noGrad(() => model.call(data.x));
  model.train();
  let correct = 0;
  for (let i = 0; i < logits.size; i++) if ((logits.data[i] > 0) === (data.y.data[i] === 1)) correct++;
  return correct / logits.size;
}

const failures: string[] = [];

/** Prints the claim with ✓ or ✗; a failed claim makes the process exit with code 1 at the end. */
export function claim(description: string, holds: boolean): void {
  console.log(`${holds ? '✓' : '✗'} ${description}`);
  if (!holds) failures.push(description);
}

process.on('beforeExit', () => {
  if (failures.length > 0) {
    console.error(`${failures.length} claim(s) did not hold`);
    process.exitCode = 1;
  }
});

/** A number with fixed decimals, right-aligned in `width` characters, for tables. */
export const format = (value: number, digits = 4, width = 10): string => value.toFixed(digits).padStart(width);
