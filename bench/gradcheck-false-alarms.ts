/**
 * How often gradcheck fails a CORRECT gradient, at its default settings: every op, the explicit
 * and fused BN, an MLP (a closure over its parameters), first and second order, full and fast
 * mode, over many seeds. A kink hit by chance (relu at 0) is counted apart from a false alarm.
 * (Each op's own check, checkRecordedOps, has its count in bench/op-check-false-alarms.ts.)
 *
 *   node --import tsx bench/gradcheck-false-alarms.ts [seeds per case, default 200]
 *
 * Prints one row per case and the total; the README quotes the total.
 */
import * as gg from '../src/index.js';
import { BatchNorm1d, Linear, ReLU, Sequential } from '../src/nn/index.js';
import { Random } from '../src/tensor/random.js';
import type { GradcheckOptions, GradcheckReport, Tensor } from '../src/index.js';

type Away = (v: number) => number;
const awayFromZero: Away = (v) => Math.sign(v || 1) * (Math.abs(v) + 0.25);
const positive: Away = (v) => Math.abs(v) + 0.5;

/** A case: from a seed, the function and its inputs (fresh tensors every time). */
type Case = (random: Random, seed: number) => { fn: (...xs: Tensor[]) => Tensor | Tensor[]; inputs: Tensor[] };

function shapeOf(random: Random, maxRank = 3, maxSize = 4): number[] {
  const rank = Math.floor(random.uniform() * (maxRank + 1));
  return Array.from({ length: rank }, () => 1 + Math.floor(random.uniform() * maxSize));
}

function leaf(random: Random, shape: number[], name: string, away: Away = (v) => v): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Float64Array.from({ length: size }, () => away(random.uniform() * 4 - 2));
  return new gg.Tensor(values, shape, { requiresGrad: true, name });
}

/** A shape that broadcasts to `shape`: some axes set to 1, some leading axes dropped. */
function broadcastable(random: Random, shape: number[]): number[] {
  const dropped = Math.floor(random.uniform() * (shape.length + 1));
  return shape.map((d) => (random.uniform() < 0.5 ? 1 : d)).slice(dropped);
}

const unary: [string, (x: Tensor) => Tensor, Away?][] = [
  ['neg', gg.neg], ['sqrt', gg.sqrt, positive], ['exp', gg.exp], ['log', gg.log, positive],
  ['abs', gg.abs, awayFromZero], ['square', gg.square], ['relu', gg.relu, awayFromZero],
  ['sigmoid', gg.sigmoid], ['tanh', gg.tanh], ['softplus', gg.softplus],
  ['sin', gg.sin], ['cos', gg.cos], ['expm1', gg.expm1], ['log1p', gg.log1p, positive],
  ['reciprocal', gg.reciprocal, awayFromZero], ['rsqrt', gg.rsqrt, positive], ['erf', gg.erf], ['gelu', gg.gelu],
  ['leakyRelu', (x) => gg.leakyRelu(x), awayFromZero], ['elu', (x) => gg.elu(x), awayFromZero],
];
const binary: [string, (a: Tensor, b: Tensor) => Tensor, Away | undefined, Away | undefined][] = [
  ['add', gg.add, undefined, undefined], ['sub', gg.sub, undefined, undefined], ['mul', gg.mul, undefined, undefined],
  ['div', gg.div, undefined, awayFromZero], ['pow', gg.pow, positive, undefined],
];

function bnInputs(random: Random, fourD: boolean): Tensor[] {
  const channels = 1 + Math.floor(random.uniform() * 3);
  const shape = fourD ? [2 + Math.floor(random.uniform() * 2), channels, 2, 2] : [2 + Math.floor(random.uniform() * 5), channels];
  const x = leaf(random, shape, 'x');
  const spatial = x.size / (shape[0] * channels);
  const offsets = Array.from({ length: channels }, () => 3 * random.normal());
  const scales = Array.from({ length: channels }, () => 0.5 + Math.abs(random.normal()));
  x.data.forEach((v, i) => (x.data[i] = v * scales[Math.floor(i / spatial) % channels] + offsets[Math.floor(i / spatial) % channels]));
  return [x, leaf(random, [channels], 'gamma'), leaf(random, [channels], 'beta')];
}

const cases: [string, Case][] = [
  ...unary.map(([name, op, away]): [string, Case] => [name, (random) => ({ fn: op, inputs: [leaf(random, shapeOf(random), 'x', away)] })]),
  ...binary.map(([name, op, awayA, awayB]): [string, Case] => [name, (random) => {
    const shape = shapeOf(random);
    const [sa, sb] = random.uniform() < 0.5 ? [shape, broadcastable(random, shape)] : [broadcastable(random, shape), shape];
    return { fn: op, inputs: [leaf(random, sa, 'a', awayA), leaf(random, sb, 'b', awayB)] };
  }]),
  ['sum', (random) => ({ fn: (t) => t.sum(0, { keepdims: true }), inputs: [leaf(random, [1 + Math.floor(random.uniform() * 4), 3], 'x')] })],
  ['mean', (random) => ({ fn: (t) => t.mean(), inputs: [leaf(random, shapeOf(random), 'x')] })],
  ['max', (random) => {
    const x = leaf(random, [3, 4], 'x');
    // Distinct values 0.1 apart, so no difference crosses a tie.
    [...x.data.keys()].sort((i, j) => x.data[i] - x.data[j]).forEach((position, rank) => (x.data[position] = rank * 0.1));
    return { fn: (t) => t.max(1), inputs: [x] };
  }],
  ...([
    ['softmax', (t: Tensor) => gg.softmax(t, 1)], ['logSoftmax', (t: Tensor) => gg.logSoftmax(t, 1)],
    ['logsumexp', (t: Tensor) => gg.logsumexp(t, 1)], ['variance', (t: Tensor) => gg.variance(t, 0)], ['std', (t: Tensor) => gg.std(t, 1)],
  ] as const).map(([name, f]): [string, Case] => [name, (random) => ({ fn: f, inputs: [leaf(random, [2 + Math.floor(random.uniform() * 3), 4], 'x')] })]),
  ['matmul', (random) => {
    const [m, k, n] = [1, 2, 3].map(() => 1 + Math.floor(random.uniform() * 3));
    return { fn: gg.matmul, inputs: [leaf(random, [2, m, k], 'a'), leaf(random, [2, k, n], 'b')] };
  }],
  ['batchNorm [N, C]', (random) => ({ fn: (x, g, b) => gg.batchNorm(x, g, b), inputs: bnInputs(random, false) })],
  ['batchNorm [N, C, H, W]', (random) => ({ fn: (x, g, b) => gg.batchNorm(x, g, b), inputs: bnInputs(random, true) })],
  ['batchNormFused [N, C]', (random) => ({ fn: (x, g, b) => gg.batchNormFused(x, g, b), inputs: bnInputs(random, false) })],
  ['batchNormFused [N, C, H, W]', (random) => ({ fn: (x, g, b) => gg.batchNormFused(x, g, b), inputs: bnInputs(random, true) })],
  ['MLP (closure over parameters)', (random, seed) => {
    const net = new Sequential([new Linear(3, 5, { seed }), new BatchNorm1d(5), new ReLU(), new Linear(5, 2, { seed: seed + 1 })]);
    const x = gg.randn([6, 3], { seed: seed + 2 });
    const target = gg.randn([6, 2], { seed: seed + 3 });
    void random;
    return { fn: () => gg.mseLoss(net.call(x), target), inputs: net.parameters() };
  }],
];

const seeds = Number(process.argv[2] ?? 200);
const checks: [string, (fn: never, inputs: Tensor[], options: GradcheckOptions) => GradcheckReport, GradcheckOptions][] = [
  ['gradcheck', gg.gradcheck, {}],
  ['gradcheck fast', gg.gradcheck, { fastMode: true }],
  ['gradgradcheck', gg.gradgradcheck, {}],
];

let total = 0, falseAlarms = 0, kinks = 0;
const shown: string[] = [];
const rows: string[][] = [['case', 'checks', 'false alarms', 'kinks']];
for (const [name, build] of cases) {
  let caseChecks = 0, caseAlarms = 0, caseKinks = 0;
  for (let seed = 0; seed < seeds; seed++) {
    for (const [checkName, check, options] of checks) {
      const { fn, inputs } = build(new Random(seed * 7919 + name.length), seed);
      const report = check(fn as never, inputs, { ...options, seed });
      caseChecks++;
      if (report.passed) continue;
      if (report.inputs.every((r) => r.passed || r.status === 'kink')) caseKinks++;
      else caseAlarms++;
      if (shown.length < 6) shown.push(`${name}, ${checkName}, seed ${seed}:\n${report.message}`);
    }
  }
  total += caseChecks;
  falseAlarms += caseAlarms;
  kinks += caseKinks;
  rows.push([name, String(caseChecks), String(caseAlarms), String(caseKinks)]);
}
rows.push(['total', String(total), String(falseAlarms), String(kinks)]);
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
console.log(rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n'));
console.log(`\nfalse alarms: ${falseAlarms} of ${total} checks of correct gradients (${((100 * falseAlarms) / total).toFixed(3)}%); kinks hit: ${kinks}`);
for (const text of shown) console.log(`\n${text}`);
