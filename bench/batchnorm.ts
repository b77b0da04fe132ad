import { batchNorm, batchNormFused, grad, noGrad, randn, type Tensor } from '../src/index.js';
import { handFusedBatchNorm } from './handfused.js';
import { measure, ms, pairedRatio, printTable, ratio } from './harness.js';
import type { TensorFlow } from './peer.js';

/* BN forward + backward (all three gradients) at the shapes, three ways and against TF.js. */

export const SHAPES: readonly [number, number][] = [[64, 64], [256, 1024], [1024, 256]];
const EPS = 1e-5;

export interface Problem {
  n: number;
  d: number;
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  dout: Tensor;
}

export function problem(n: number, d: number): Problem {
  return {
    n, d,
    x: randn([n, d], { seed: 1, requiresGrad: true }),
    gamma: randn([d], { seed: 2, requiresGrad: true }),
    beta: randn([d], { seed: 3, requiresGrad: true }),
    dout: randn([n, d], { seed: 4 }),
  };
}

export function explicitStep({ x, gamma, beta, dout }: Problem): Tensor[] {
  return grad(batchNorm(x, gamma, beta, { eps: EPS }), [x, gamma, beta], { gradOutputs: [dout] });
}

export function fusedStep({ x, gamma, beta, dout }: Problem): Tensor[] {
  return grad(batchNormFused(x, gamma, beta, { eps: EPS }), [x, gamma, beta], { gradOutputs: [dout] });
}

export function handStep({ x, gamma, beta, dout, n, d }: Problem) {
  // storage, not data: the reference only reads, and a handed-out x would be copied by every op that records it.
  return handFusedBatchNorm(x.storage, gamma.storage, beta.storage, dout.storage, n, d, EPS);
}

function maxDifference(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Refuses to time implementations that do not compute the same thing. */
function assertSameWork(p: Problem): void {
  const hand = handStep(p);
  for (const [name, step] of [['explicit', explicitStep], ['fused', fusedStep]] as const) {
    const [dx, dgamma, dbeta] = step(p);
    const worst = Math.max(maxDifference(dx.storage, hand.dx), maxDifference(dgamma.storage, hand.dgamma), maxDifference(dbeta.storage, hand.dbeta));
    if (!(worst < 1e-8)) throw new Error(`benchmark: ${name} BN disagrees with the hand-fused loop by ${worst}`);
  }
}

export function benchBatchNorm(): void {
  const rows = [['shape', 'hand-fused ms', 'fused ms', 'explicit ms', 'fused / hand', 'explicit / hand', 'targets']];
  for (const [n, d] of SHAPES) {
    const p = problem(n, d);
    assertSameWork(p);
    const rounds = n * d > 100_000 ? 40 : 300;
    const [hand, fused, explicit] = measure([
      { name: 'hand', run: () => handStep(p) },
      { name: 'fused', run: () => fusedStep(p) },
      { name: 'explicit', run: () => explicitStep(p) },
    ], { rounds });
    rows.push([`${n}×${d}`, ms(hand.medianMs), ms(fused.medianMs), ms(explicit.medianMs),
      ratio(pairedRatio(fused, hand)), ratio(pairedRatio(explicit, hand)), n === 256 ? '≤ 1.30×, ≤ 2.50×' : '']);
  }
  printTable('BN forward + backward, float64 (median times; ratios are medians of per-round ratios)', rows);
}

/**
 * The share of explicit BN's time spent on the graph rather than on data: recording nodes,
 * sorting, dispatching ops. That cost does not grow with the data, so it is measured at 2×1,
 * where it is nearly all there is, and compared with the whole step at 256×1024. (A difference
 * of two 256×1024 timings would measure the machine's noise instead.)
 */
export function benchBookkeeping(): void {
  const big = problem(256, 1024);
  const tiny = problem(2, 1);
  // 100 calls a sample: one call at 2×1 is too short to time alone.
  const hundred = (f: () => unknown) => () => {
    for (let i = 0; i < 100; i++) f();
  };
  const [recorded, plain, whole] = measure([
    { name: 'recorded forward at 2×1', run: hundred(() => batchNorm(tiny.x, tiny.gamma, tiny.beta)) },
    { name: 'noGrad forward at 2×1', run: hundred(() => noGrad(() => batchNorm(tiny.x, tiny.gamma, tiny.beta))) },
    { name: 'fwd+bwd at 2×1', run: hundred(() => explicitStep(tiny)) },
  ], { rounds: 200, warmup: 20 });
  const perCall = (timing: { medianMs: number }) => timing.medianMs / 100;
  const [full] = measure([{ name: 'fwd+bwd', run: () => explicitStep(big) }], { rounds: 40 });
  const share = (value: number) => `${((value / full.medianMs) * 100).toFixed(2)}%`;
  const recording = Math.max(0, perCall(recorded) - perCall(plain));
  const us = (value: number) => `${(value * 1000).toFixed(1)} µs`;
  printTable('Graph bookkeeping in explicit BN, against the whole step at 256×1024 (target < 10%)', [
    ['measure', 'time', 'share'],
    ['fwd+bwd at 256×1024', `${ms(full.medianMs)} ms`, '100%'],
    ['all bookkeeping: fwd+bwd at 2×1', us(perCall(whole)), share(perCall(whole))],
    ['recording alone: recorded − noGrad forward at 2×1', us(recording), share(recording)],
  ]);
}

/** The same explicit graph in TF.js, and its own tf.batchNorm with tf.moments, differentiated by tf.grads. */
export function benchTensorFlow(tf: TensorFlow): void {
  const rows = [['shape', 'gradgraph fused ms', 'gradgraph explicit ms', 'tf explicit ms', 'tf.batchNorm ms', 'tf explicit / ours', 'tf.batchNorm / our fused']];
  for (const [n, d] of SHAPES) {
    const p = problem(n, d);
    const x = tf.tensor2d(Array.from(p.x.data), [n, d]);
    const gamma = tf.tensor1d(Array.from(p.gamma.data));
    const beta = tf.tensor1d(Array.from(p.beta.data));
    const dy = tf.tensor2d(Array.from(p.dout.data), [n, d]);
    const explicit = tf.grads((xs: TensorFlow, g: TensorFlow, b: TensorFlow) => {
      const mean = xs.mean(0, true);
      const centred = xs.sub(mean);
      const variance = centred.square().mean(0, true);
      return centred.div(variance.add(EPS).sqrt()).mul(g).add(b);
    });
    const builtIn = tf.grads((xs: TensorFlow, g: TensorFlow, b: TensorFlow) => {
      const { mean, variance } = tf.moments(xs, 0);
      return tf.batchNorm(xs, mean, variance, b, g, EPS);
    });
    // Pull the results to JavaScript so TF.js cannot defer the work, and free its tensors.
    const run = (f: TensorFlow) => () => tf.tidy(() => f([x, gamma, beta], dy).map((t: TensorFlow) => t.dataSync()));
    const check = run(explicit)()[0] as Float32Array;
    const ours = handStep(p).dx;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(check[i] - ours[i]));
    if (!(worst < 1e-2)) throw new Error(`benchmark: TF.js explicit BN disagrees with ours by ${worst}`);
    const rounds = n * d > 100_000 ? 15 : 100;
    const [fusedT, explicitT, tfExplicit, tfBuiltIn] = measure([
      { name: 'fused', run: () => fusedStep(p) },
      { name: 'explicit', run: () => explicitStep(p) },
      { name: 'tf explicit', run: run(explicit) },
      { name: 'tf.batchNorm', run: run(builtIn) },
    ], { rounds, warmup: 3 });
    rows.push([`${n}×${d}`, ms(fusedT.medianMs), ms(explicitT.medianMs), ms(tfExplicit.medianMs), ms(tfBuiltIn.medianMs),
      ratio(pairedRatio(tfExplicit, explicitT)), ratio(pairedRatio(tfBuiltIn, fusedT))]);
    tf.dispose([x, gamma, beta, dy]);
  }
  printTable(`Against TensorFlow.js ${tf.version.tfjs}, pure-JavaScript CPU backend (float32: its CPU backend has no float64; ours is float64). Above 1× means we are faster`, rows);
}
