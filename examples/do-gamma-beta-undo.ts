/**
 * The Q&A's question: do γ and β "undo" batch normalization? They can represent the identity
 * (γ = √(σ² + ε), β = μ), but they are parameters, not functions of the batch:
 *   1. frozen at one batch's undo values, they do not give back a different batch;
 *   2. learned by training, they end up far from the undo values.
 *
 *   npx tsx examples/do-gamma-beta-undo.ts
 */
import { Adam, batchNorm, binaryCrossEntropyWithLogits, BatchNorm1d, Linear, miniBatches, noGrad, ReLU, Sequential, twoMoons, type Tensor } from 'gradgraph';
import { accuracy, claim, evaluate, format, trainEpoch } from './lib/training.js';

const eps = 1e-5;

/** γ and β that make batch norm the identity on this batch: its standard deviation and mean per feature. */
function undoValues(x: Tensor): { gamma: Tensor; beta: Tensor } {
  return noGrad(() => {
    const mean = x.mean(0);
    return { gamma: x.sub(mean).square().mean(0).add(eps).sqrt(), beta: mean };
  });
}

const maxAbsDifference = (a: Tensor, b: Tensor) => Math.max(...a.data.map((v, i) => Math.abs(v - b.data[i])));
const relativeDistance = (a: Float64Array, b: Float64Array) =>
  Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / b.reduce((s, v) => s + v * v, 0));

// 1. Frozen undo values: two batches of the same data.
const data = twoMoons({ n: 256, noise: 0.1, seed: 1 });
const [batchA, batchB] = miniBatches(data, 32, { seed: 7 });
const frozen = undoValues(batchA.x);
const errorA = maxAbsDifference(batchNorm(batchA.x, frozen.gamma, frozen.beta, { eps }), batchA.x);
const errorB = maxAbsDifference(batchNorm(batchB.x, frozen.gamma, frozen.beta, { eps }), batchB.x);
console.log('1. γ, β frozen at the undo values of batch A (32 two-moons points):');
console.log(`   max |BN(A) − A| = ${errorA.toExponential(2)}   max |BN(B) − B| = ${errorB.toFixed(4)} for another batch B`);
claim('the undo values of one batch give it back exactly (error < 1e-12)', errorA < 1e-12);
claim('they do not give back another batch (error > 0.01): BN uses each batch\'s own μ and σ', errorB > 0.01);

// 2. Learned values: train Linear → BatchNorm1d → ReLU → Linear to classify the two moons.
const hidden = 8;
const first = new Linear(2, hidden, { seed: 1 });
const bn = new BatchNorm1d(hidden);
const second = new Linear(hidden, 1, { seed: 2 });
const relu = new ReLU();
const model = new Sequential([first, bn, relu, second]);
const optimizer = new Adam(model.parameters(), { lr: 0.03 });
for (let epoch = 0; epoch < 40; epoch++) trainEpoch(model, data, optimizer, { batchSize: 32, seed: epoch });

// The undo values for the trained network: the statistics of what BN receives, over all the data.
const undo = undoValues(noGrad(() => first.call(data.x)));
const learnedGamma = bn.gamma!.data;
const learnedBeta = bn.beta!.data;
console.log(`2. After 40 epochs (Adam, batches of 32; accuracy ${(100 * accuracy(model, data)).toFixed(1)}%), feature by feature:`);
console.log('   feature  learned γ     undo γ  learned β     undo β');
for (let d = 0; d < hidden; d++) {
  console.log(`   ${String(d).padStart(7)} ${format(learnedGamma[d], 3)} ${format(undo.gamma.data[d], 3)} ${format(learnedBeta[d], 3)} ${format(undo.beta.data[d], 3)}`);
}
const gammaDistance = relativeDistance(learnedGamma, undo.gamma.data);
const betaDistance = relativeDistance(learnedBeta, undo.beta.data);
console.log(`   ‖γ − undo γ‖ / ‖undo γ‖ = ${gammaDistance.toFixed(2)}   ‖β − undo β‖ / ‖undo β‖ = ${betaDistance.toFixed(2)}`);

// Put the undo values in, and BN becomes the identity on the data: the network loses what it learned.
const learnedLoss = evaluate(model, data);
const undoneLoss = noGrad(() => {
  const logits = second.call(relu.call(batchNorm(first.call(data.x), undo.gamma, undo.beta, { eps })));
  return binaryCrossEntropyWithLogits(logits, data.y).item();
});
console.log(`   loss with the learned γ, β: ${learnedLoss.toFixed(4)}   with the undo values instead: ${undoneLoss.toFixed(4)}`);

claim('the learned γ are far from the undo values (relative distance > 0.5)', gammaDistance > 0.5);
claim('the learned β are far from the undo values (relative distance > 0.5)', betaDistance > 0.5);
claim('undoing BN with them would cost the trained network (loss at least doubles)', undoneLoss > 2 * learnedLoss);
