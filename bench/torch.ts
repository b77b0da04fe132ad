import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Adam, BatchNorm1d, Linear, ReLU, Sequential, batchNorm, binaryCrossEntropyWithLogits, emptyPool, grad, gradcheck, maxPool2d, randn, tidy, twoMoons, type Tensor } from '../src/index.js';
import { backwardTime } from './chain.js';
import { cnnStep } from './conv.js';
import { explicitStep, fusedStep, handStep, problem, type Problem } from './batchnorm.js';
import { measure, median, ms, pairedRatio, printTable, ratio, type MeasureOptions, type Timing } from './harness.js';
import { HOW_TO_GET_TORCH, TorchPeer, findTorchPython, torchEnvironment, torchMalloc } from './torch-peer.js';

/*
 * gradgraph against PyTorch, float64, one thread each side, in one run: each round times our case
 * in this process and asks the python peer to time its own, alternating (see torch-peer.ts). The
 * targets are issue #12's; a ratio is ours / PyTorch's unless the row says otherwise.
 */

const SHAPES: readonly [number, number][] = [[64, 64], [256, 1024], [1024, 256], [4096, 1024]];
const CHAIN_LENGTH = 100_000;
const MEMORY_CHAIN_LENGTH = 400_000;

const verdict = (met: boolean) => (met ? 'met' : 'not met');

/**
 * Rounds, and runs per sample (see `repeat` in harness.ts): samples of a millisecond or more each
 * side (about ten at the middle shapes), and a second of warm-up per case, so that both sides are
 * timed in a loop's steady state. At the middle shapes (2 MB per tensor) a step right after the
 * other side's turn finds its tensors gone from the caches, and the next steps take a while to
 * get them back (`npm run bench -- torch-steps`): at 256×1024, fused BN in tidy() took 787, 354,
 * 287 and 280 µs for its first four steps after PyTorch's turn and 272–277 from the eighth on,
 * PyTorch's own 704, 491, 464, 439 and 404–415. Samples of 4 steps, used until 2026-11-22, timed
 * mostly that recovery.
 */
function plan(elements: number) {
  if (elements <= 10_000) return { rounds: 40, repeat: 50, warmupMs: 1000 };
  if (elements <= 300_000) return { rounds: 12, repeat: 32, warmupMs: 1000 };
  return { rounds: 6, repeat: 1, warmupMs: 1000 };
}

function sendProblem(peer: TorchPeer, kind: string, p: Problem): number {
  const files = { x: peer.file(p.x.storage), gamma: peer.file(p.gamma.storage), beta: peer.file(p.beta.storage), dout: peer.file(p.dout.storage) };
  return peer.setup(kind, { n: p.n, d: p.d, files });
}

/** Refuses to time a PyTorch case that does not compute what ours does. */
function assertPeerAgrees(peer: TorchPeer, id: number, p: Problem, kind: string): void {
  const theirs = peer.results(id, 3);
  const hand = handStep(p);
  let worst = 0;
  [hand.dx, hand.dgamma, hand.dbeta].forEach((ours, g) => {
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[g][i]));
  });
  if (!(worst < 1e-8)) throw new Error(`benchmark: PyTorch's ${kind} BN disagrees with ours by ${worst}`);
}

function bnRow(label: string, ours: Timing, theirs: Timing, target: number): string[] {
  const r = pairedRatio(ours, theirs);
  return [label, ms(ours.medianMs), ms(theirs.medianMs), ratio(r), `≤ ${target.toFixed(1)}×`, verdict(r <= target)];
}

/**
 * Starts a group from an empty pool, with what earlier groups left collected: a step run outside
 * tidy() leaves its buffers in the kernels' WebAssembly memory until the collector finds them
 * dead and a FinalizationRegistry, which runs only between tasks, gives them back (see
 * src/backend/wasm/arena.ts). (`npm run bench` runs node with --expose-gc.)
 */
async function settle(): Promise<void> {
  emptyPool();
  // The registry's callbacks come in tasks of their own some time after a collection.
  for (let wait = 0; wait < 5; wait++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Ours and the peer's case `id`, in rounds of their own, starting from an empty pool and collected memory. */
async function againstPeer(peer: TorchPeer, id: number, run: () => unknown, options: MeasureOptions): Promise<[Timing, Timing]> {
  await settle();
  const [ours, theirs] = measure([
    { name: 'gradgraph', run },
    { name: 'PyTorch', run: () => 0, timeItself: (repeat) => peer.time(id, repeat) },
  ], options);
  emptyPool();
  return [ours, theirs];
}

async function benchBatchNormAgainstTorch(peer: TorchPeer): Promise<void> {
  const rows = [['case', 'gradgraph ms', 'PyTorch ms', 'ours / theirs', 'target', '']];
  for (const [n, d] of SHAPES) {
    const p = problem(n, d);
    const fusedId = sendProblem(peer, 'fused', p);
    const explicitId = sendProblem(peer, 'explicit', p);
    assertPeerAgrees(peer, fusedId, p, 'F.batch_norm');
    assertPeerAgrees(peer, explicitId, p, 'explicit');
    // One case at a time, so that each side's step follows the other side's step of the same
    // case, when it waited as long as its counterpart does. Four cases in one round put our fused
    // step after PyTorch's explicit graph (a wait ten times as long, which leaves our caches
    // cold: up to 3× the time at 64×64, measured) and PyTorch's explicit graph after ours.
    // Ours runs as written, and in tidy(), which gives the step's buffers back when it ends, as
    // PyTorch's reference counting does (without it, each step writes into fresh memory). Each in
    // a group of its own, with an empty pool: in one group, either would use the buffers the
    // other gave back.
    const versus = (run: () => unknown, id: number) => againstPeer(peer, id, run, plan(n * d));
    rows.push(bnRow(`fused vs F.batch_norm, ${n}×${d}`, ...(await versus(() => fusedStep(p), fusedId)), 0.8));
    rows.push(bnRow(`  the same in tidy()`, ...(await versus(() => tidy(() => { fusedStep(p); }), fusedId)), 0.8));
    rows.push(bnRow(`explicit graph vs torch's, ${n}×${d}`, ...(await versus(() => explicitStep(p), explicitId)), 0.8));
    rows.push(bnRow(`  the same in tidy()`, ...(await versus(() => tidy(() => { explicitStep(p); }), explicitId)), 0.8));
    for (const id of [fusedId, explicitId]) peer.ask({ cmd: 'drop', id });
  }
  printTable('BN forward + backward against PyTorch, float64, one thread (ratios: medians of per-round ratios; samples of several steps in a row after a second of warm-up)', rows);
}

async function benchMlpAgainstTorch(peer: TorchPeer): Promise<void> {
  const data = twoMoons({ n: 128, noise: 0.1, seed: 1 });
  const model = new Sequential([new Linear(2, 64, { seed: 1 }), new BatchNorm1d(64, { fused: true }), new ReLU(), new Linear(64, 1, { seed: 2 })]);
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const id = peer.setup('mlp', { n: 128, lr: 1e-3, files: { x: peer.file(data.x.storage), y: peer.file(data.y.storage) } });
  const step = () => {
    optimizer.zeroGrad();
    binaryCrossEntropyWithLogits(model.call(data.x), data.y).backward();
    optimizer.step();
  };
  // Both sides keep training the same model from where the last round left it.
  const steady = { rounds: 30, repeat: 20, warmupMs: 1000 };
  const [ours, theirs] = await againstPeer(peer, id, step, steady);
  const [oursTidy, theirsTidy] = await againstPeer(peer, id, () => tidy(step), steady);
  // Steps per second are 1 / time, so ours / theirs in steps per second is theirs / ours in time.
  const row = (label: string, a: Timing, b: Timing) => {
    const speedup = pairedRatio(b, a);
    return [label, ms(a.medianMs), ms(b.medianMs), (1000 / a.medianMs).toFixed(0), (1000 / b.medianMs).toFixed(0), ratio(speedup), '≥ 1.2×', verdict(speedup >= 1.2)];
  };
  printTable('MLP training step against PyTorch (Linear(2,64) → BatchNorm1d (fused) → ReLU → Linear(64,1), batch 128, Adam, float64; samples of 20 steps)', [
    ['', 'gradgraph ms', 'PyTorch ms', 'gradgraph steps/s', 'PyTorch steps/s', 'ours / theirs (steps/s)', 'target', ''],
    row('step as written', ours, theirs),
    row('step in tidy()', oursTidy, theirsTidy),
  ]);
}

/**
 * The conv section's CNN training step (fused BN) against PyTorch's same model: no target in
 * issue #12, shown so that the ops around BN in a CNN are measured against PyTorch too.
 */
async function benchCnnAgainstTorch(peer: TorchPeer): Promise<void> {
  const batch = 64;
  const images = randn([batch, 1, 28, 28], { seed: 1 });
  const id = peer.setup('cnn', { n: batch, lr: 0.01, files: { x: peer.file(images.storage) } });
  const step = cnnStep(true, images);
  // About a tenth of a second a sample each side.
  const steady = { rounds: 12, repeat: 8, warmupMs: 1000 };
  const [ours, theirs] = await againstPeer(peer, id, step, steady);
  const [oursTidy, theirsTidy] = await againstPeer(peer, id, () => tidy(step), steady);
  const row = (label: string, a: Timing, b: Timing) =>
    [label, ms(a.medianMs), ms(b.medianMs), (1000 * batch / a.medianMs).toFixed(0), (1000 * batch / b.medianMs).toFixed(0), ratio(pairedRatio(b, a))];
  printTable(`CNN training step against PyTorch (Conv2d(1,8,3) → BatchNorm2d (fused) → ReLU → MaxPool2d(2) → Linear(1568,10), batch ${batch} of 28×28, SGD, float64; samples of 8 steps; no target)`, [
    ['', 'gradgraph ms', 'PyTorch ms', 'gradgraph images/s', 'PyTorch images/s', 'ours / theirs (images/s)'],
    row('step as written', ours, theirs),
    row('step in tidy()', oursTidy, theirsTidy),
  ]);
}

function benchGradcheckAgainstTorch(peer: TorchPeer): void {
  const p = problem(64, 64);
  const id = sendProblem(peer, 'gradcheck', p);
  const bn = (x: Tensor, gamma: Tensor, beta: Tensor) => batchNorm(x, gamma, beta);
  const args = [p.x, p.gamma, p.beta];
  // Each side takes seconds here: three rounds, no warm-up (the first columns warm the JIT).
  const [ours, theirs] = measure([
    { name: 'gradcheck', run: () => { if (!gradcheck(bn, args).passed) throw new Error('benchmark: gradcheck of BN failed'); } },
    { name: 'torch.autograd.gradcheck', run: () => 0, timeItself: () => peer.time(id) },
  ], { rounds: 3, warmup: 0 });
  const r = pairedRatio(ours, theirs);
  printTable('Full gradcheck of BN (x, gamma, beta) at 64×64 against torch.autograd.gradcheck (defaults each side)', [
    ['case', 'gradgraph ms', 'PyTorch ms', 'ours / theirs', 'target', ''],
    ['gradcheck, 64×64', ms(ours.medianMs), ms(theirs.medianMs), ratio(r), '≤ 0.5×', verdict(r <= 0.5)],
  ]);
}

/** maxPool2d 2×2 over the CNN bench's features (bench/conv.ts), forward and backward, against F.max_pool2d. */
async function benchMaxPoolAgainstTorch(peer: TorchPeer): Promise<void> {
  const shape = [64, 8, 28, 28], pooledShape = [64, 8, 14, 14];
  const x = randn(shape, { seed: 4, requiresGrad: true });
  const g = randn(pooledShape, { seed: 5 });
  const id = peer.setup('maxPool', { shape, pooledShape, kernel: 2, files: { x: peer.file(x.storage), g: peer.file(g.storage) } });
  const step = () => grad(maxPool2d(x, 2), x, { gradOutputs: g })[0];
  const [theirs] = peer.results(id, 1);
  const ours = step().storage;
  if (!ours.every((value, i) => value === theirs[i])) throw new Error("benchmark: PyTorch's F.max_pool2d gradient differs from ours");
  const steady = { rounds: 20, repeat: 10, warmupMs: 1000 };
  const row = (label: string, [a, b]: [Timing, Timing]) => [label, ms(a.medianMs), ms(b.medianMs), ratio(pairedRatio(a, b))];
  printTable('maxPool2d 2×2 over [64, 8, 28, 28], forward + backward (x\'s gradient), against F.max_pool2d (samples of 10 runs)', [
    ['case', 'gradgraph ms', 'PyTorch ms', 'ours / theirs'],
    row('as written', await againstPeer(peer, id, step, steady)),
    row('in tidy()', await againstPeer(peer, id, () => tidy(() => { step(); }), steady)),
  ]);
  peer.ask({ cmd: 'drop', id });
}

interface ChainMemory { beforeBytes: number; peakBytes: number; backwardMs: number }

/** Runs a chain-memory script in a fresh process (so nothing else is resident) and parses its JSON line. */
function chainMemory(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChainMemory {
  const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20, env });
  return JSON.parse(output.trim().split('\n').pop() ?? '') as ChainMemory;
}

function benchChainAgainstTorch(peer: TorchPeer): void {
  const id = peer.setup('chain', { length: CHAIN_LENGTH });
  const [ours, theirs] = measure([
    { name: 'gradgraph', run: () => 0, timeItself: () => backwardTime(CHAIN_LENGTH).ms },
    { name: 'PyTorch', run: () => 0, timeItself: () => peer.time(id) },
  ], { rounds: 5, warmup: 1 });
  const perOp = (t: Timing) => `${((t.medianMs / CHAIN_LENGTH) * 1000).toFixed(2)} µs`;
  const here = fileURLToPath(new URL('.', import.meta.url));
  const memory = { ours: [] as ChainMemory[], theirs: [] as ChainMemory[] };
  for (let run = 0; run < 3; run++) {
    memory.ours.push(chainMemory(process.execPath, ['--import', 'tsx', `${here}chain-memory.ts`, String(MEMORY_CHAIN_LENGTH)]));
    memory.theirs.push(chainMemory(peer.python, [`${here}torch_chain_memory.py`, String(MEMORY_CHAIN_LENGTH)], torchEnvironment()));
  }
  const bytesPerOp = (runs: ChainMemory[]) => median(runs.map((m) => (m.peakBytes - m.beforeBytes) / MEMORY_CHAIN_LENGTH));
  const peakMb = (runs: ChainMemory[]) => median(runs.map((m) => m.peakBytes / 2 ** 20));
  const ourBytes = bytesPerOp(memory.ours);
  printTable(`Backward through a chain of muls on 4 elements against PyTorch (memory: peak RSS in a fresh process, median of 3)`, [
    ['case', 'gradgraph', 'PyTorch', 'ours / theirs', 'target', ''],
    [`backward per op, ${CHAIN_LENGTH / 1000}k chain`, perOp(ours), perOp(theirs), ratio(pairedRatio(ours, theirs)), '', ''],
    [`peak RSS, ${MEMORY_CHAIN_LENGTH / 1000}k chain`, `${peakMb(memory.ours).toFixed(0)} MB`, `${peakMb(memory.theirs).toFixed(0)} MB`, '', '', ''],
    [`peak RSS growth per op, ${MEMORY_CHAIN_LENGTH / 1000}k chain`, `${ourBytes.toFixed(0)} B`, `${bytesPerOp(memory.theirs).toFixed(0)} B`,
      ratio(ourBytes / bytesPerOp(memory.theirs)), '≤ a few hundred B', verdict(ourBytes <= 500)],
  ]);
}

/** The steps of a sample whose times the steps part shows (1-based), out of RECOVERY_STEPS. */
const RECOVERY_SHOWN = [1, 2, 3, 4, 8, 16, 32];
const RECOVERY_STEPS = 32;

/**
 * Fused BN in tidy() at the middle shapes, each step of a 32-step sample timed on its own, right
 * after the other side's 32 steps: the figures behind the samples' length (see `plan`).
 */
async function benchStepsAgainstTorch(peer: TorchPeer): Promise<void> {
  const rows = [['case', 'side', ...RECOVERY_SHOWN.map((k) => `step ${k} µs`), 'mean of 1–4', 'mean of 1–32']];
  const microseconds = (value: number) => (value * 1000).toFixed(0);
  for (const [n, d] of SHAPES.slice(1, 3)) {
    const p = problem(n, d);
    const id = sendProblem(peer, 'fused', p);
    assertPeerAgrees(peer, id, p, 'F.batch_norm');
    await settle();
    const step = () => tidy(() => { fusedStep(p); });
    for (const warm of [() => step(), () => peer.time(id, 50)]) {
      const t0 = performance.now();
      while (performance.now() - t0 < 1000) warm();
    }
    const ours = Array.from({ length: RECOVERY_STEPS }, () => [] as number[]);
    const theirs = Array.from({ length: RECOVERY_STEPS }, () => [] as number[]);
    for (let round = 0; round < 20; round++) {
      peer.steps(id, RECOVERY_STEPS).forEach((time, k) => theirs[k].push(time));
      for (let k = 0; k < RECOVERY_STEPS; k++) {
        const t0 = performance.now();
        step();
        ours[k].push(performance.now() - t0);
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const [oursBySteps, theirsBySteps] = [ours, theirs].map((side) => side.map(median));
    const sideRow = (side: string, bySteps: number[]) => [`fused in tidy(), ${n}×${d}`, side, ...RECOVERY_SHOWN.map((k) => microseconds(bySteps[k - 1])), microseconds(mean(bySteps.slice(0, 4))), microseconds(mean(bySteps))];
    rows.push(sideRow('gradgraph', oursBySteps), sideRow('PyTorch', theirsBySteps));
    rows.push(['', 'ours / theirs', ...RECOVERY_SHOWN.map(() => ''), ratio(mean(oursBySteps.slice(0, 4)) / mean(theirsBySteps.slice(0, 4))), ratio(mean(oursBySteps) / mean(theirsBySteps))]);
    peer.ask({ cmd: 'drop', id });
  }
  printTable('Each step of a 32-step sample right after the other side\'s 32 steps (medians over 20 rounds)', rows);
}

const PARTS = { bn: benchBatchNormAgainstTorch, mlp: benchMlpAgainstTorch, gradcheck: benchGradcheckAgainstTorch, chain: benchChainAgainstTorch, steps: benchStepsAgainstTorch, cnn: benchCnnAgainstTorch, pool: benchMaxPoolAgainstTorch };
export type TorchPart = keyof typeof PARTS;
export const TORCH_PARTS = Object.keys(PARTS) as TorchPart[];

/** The PyTorch comparisons named in `parts` (all by default), in one peer process. */
export async function benchTorch(parts: readonly TorchPart[] = TORCH_PARTS): Promise<void> {
  const python = findTorchPython();
  if (!python) {
    console.log(`\n## Against PyTorch: skipped\n${HOW_TO_GET_TORCH}`);
    return;
  }
  const peer = new TorchPeer(python);
  try {
    const version = peer.ask({ cmd: 'version' });
    const [one, five, fifteen] = os.loadavg().map((l) => l.toFixed(2));
    const malloc = torchMalloc() === 'default' ? "glibc's malloc as it comes" : "glibc's malloc with freed memory kept for reuse (GRADGRAPH_TORCH_MALLOC=reuse)";
    console.log(`\nAgainst PyTorch ${version.torch} (${python}, ${version.threads} thread, ${malloc}), float64; load average ${one}, ${five}, ${fifteen}`);
    for (const part of parts) await PARTS[part](peer);
    const [a, b, c] = os.loadavg().map((l) => l.toFixed(2));
    console.log(`load average at the end: ${a}, ${b}, ${c}`);
  } finally {
    peer.close();
  }
}
