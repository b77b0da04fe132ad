/**
 * The paper's argument for γ and β (Ioffe & Szegedy 2015, §3): "normalizing the inputs of a
 * sigmoid would constrain them to the linear regime of the nonlinearity". We train the same
 * network, Linear → BatchNorm1d → Sigmoid → Linear, with and without the learnable scale and
 * shift, and measure where the sigmoid's inputs fall and what that does to the training loss.
 *
 *   npx tsx examples/why-scale-and-shift.ts
 */
import { Adam, BatchNorm1d, Linear, noGrad, Sequential, Sigmoid, twoMoons } from 'gradgraph';
import { accuracy, claim, trainEpoch } from './lib/training.js';

const hidden = 16;
const epochs = 60;
const data = twoMoons({ n: 256, noise: 0.1, seed: 1 });

/** |z| < 1: where σ(z) stays within 0.02 of its tangent 1/2 + z/4, i.e. σ acts as a linear map. */
const NEAR_LINEAR = 1;

function run(affine: boolean) {
  const first = new Linear(2, hidden, { seed: 1 });
  const bn = new BatchNorm1d(hidden, { affine });
  const model = new Sequential([first, bn, new Sigmoid(), new Linear(hidden, 1, { seed: 101 })]);
  const optimizer = new Adam(model.parameters(), { lr: 0.03 });
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) losses.push(trainEpoch(model, data, optimizer, { batchSize: 32, seed: epoch }));
  // What the sigmoid receives after training, on all the data (eval mode: running statistics).
  model.eval();
  const z = noGrad(() => bn.call(first.call(data.x))).data;
  model.train();
  const nearLinear = z.filter((v) => Math.abs(v) < NEAR_LINEAR).length / z.length;
  const rms = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length);
  return { losses, nearLinear, rms, accuracy: accuracy(model, data) };
}

const without = run(false);
const withAffine = run(true);

console.log(`Linear(2, ${hidden}) → BatchNorm1d → Sigmoid → Linear(${hidden}, 1) on two moons, ${epochs} epochs of Adam:`);
for (const [label, r] of [['without γ, β (x̂ only):', without], ['with learned γ, β:', withAffine]] as const) {
  console.log(`  ${label.padEnd(23)} sigmoid inputs with rms ${r.rms.toFixed(2)}, ${(100 * r.nearLinear).toFixed(1)}% of them in the near-linear range |z| < 1;`);
  console.log(`  ${''.padEnd(23)} final training loss ${r.losses[epochs - 1].toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(1)}%`);
}
console.log(`  loss every 10 epochs without: ${without.losses.filter((_, e) => e % 10 === 9).map((l) => l.toFixed(3)).join(' ')}`);
console.log(`  loss every 10 epochs with:    ${withAffine.losses.filter((_, e) => e % 10 === 9).map((l) => l.toFixed(3)).join(' ')}`);

claim('without γ, β the sigmoid inputs keep unit scale (rms within 0.05 of 1)', Math.abs(without.rms - 1) < 0.05);
claim('with γ, β the network spreads them (rms > 2) and uses less of the near-linear range', withAffine.rms > 2 && withAffine.nearLinear < without.nearLinear);
claim('and reaches a much lower training loss (below 0.6× the loss without)', withAffine.losses[epochs - 1] < 0.6 * without.losses[epochs - 1]);
