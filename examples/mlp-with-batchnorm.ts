/**
 * Batch norm inside a real network: Linear → BatchNorm1d → ReLU → Linear, trained on two moons,
 * against the same network (same initial weights) without batch norm. Seeded, so the numbers
 * are the same on every run.
 *
 *   npx tsx examples/mlp-with-batchnorm.ts [picture.svg]
 *
 * It also draws the trained network, each module as a box, to picture.svg (default: a file in
 * the system's temporary folder).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchNorm1d, binaryCrossEntropyWithLogits, Linear, ReLU, render, Sequential, SGD, toDot, twoMoons } from 'gradgraph';
import { accuracy, claim, evaluate, trainEpoch } from './lib/training.js';

const hidden = 16;
const epochs = 30;
const data = twoMoons({ n: 256, noise: 0.1, seed: 1 });

function train(withBatchNorm: boolean) {
  const model = new Sequential([
    new Linear(2, hidden, { seed: 1 }),
    ...(withBatchNorm ? [new BatchNorm1d(hidden)] : []),
    new ReLU(),
    new Linear(hidden, 1, { seed: 101 }),
  ], { name: withBatchNorm ? 'mlp with BN' : 'mlp' });
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const losses = Array.from({ length: epochs }, (_, epoch) => trainEpoch(model, data, optimizer, { batchSize: 32, seed: epoch }));
  return { model, losses, evalLoss: evaluate(model, data), accuracy: accuracy(model, data) };
}

const plain = train(false);
const normalized = train(true);

console.log(`Two moons (256 points), batches of 32, SGD lr 0.05 momentum 0.9. Training loss by epoch:`);
console.log('  epoch   without BN   with BN');
for (let epoch = 4; epoch < epochs; epoch += 5) {
  console.log(`  ${String(epoch + 1).padStart(5)} ${plain.losses[epoch].toFixed(4).padStart(12)} ${normalized.losses[epoch].toFixed(4).padStart(9)}`);
}
for (const [label, r] of [['without BN', plain], ['with BN', normalized]] as const) {
  console.log(`  ${label.padEnd(10)}: eval-mode loss ${r.evalLoss.toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(1)}%`);
}

// One training step's graph of the trained network: values summarised, gradients beside them.
// A fresh folder of our own: a fixed name in the shared /tmp is one anyone could plant a link at.
const picture = process.argv[2] ?? join(mkdtempSync(join(tmpdir(), 'gradgraph-')), 'mlp-with-batchnorm.svg');
normalized.model.train(); // batch statistics, the graph the seeds ask about
const loss = binaryCrossEntropyWithLogits(normalized.model.call(data.x), data.y);
loss.backward(undefined, { retainGrads: true });
const svg = await render(toDot(loss, { values: 'summary', grads: true, clusters: 'expanded', title: 'The trained MLP with BatchNorm1d, one step on all 256 points' }));
// Whole or not at all: a temporary name no one can guess, created exclusively ('wx'), then renamed.
const temporary = `${picture}.${randomBytes(6).toString('hex')}.tmp`;
writeFileSync(temporary, svg, { flag: 'wx' });
renameSync(temporary, picture);
console.log(`  drew the trained network, modules as boxes, to ${picture}`);

claim('with BN the training loss ends lower (final epoch, below 0.75× without)', normalized.losses[epochs - 1] < 0.75 * plain.losses[epochs - 1]);
claim('and the eval-mode network (running statistics) classifies at least as well', normalized.accuracy >= plain.accuracy);
