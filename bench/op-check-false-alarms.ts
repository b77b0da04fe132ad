import * as gg from '../src/index.js';
import { buildBatchNorm, buildMlp } from '../src/cli/models.js';

/*
 * How often checkRecordedOps calls a correct gradient wrong: every built-in op, the explicit BN
 * graph (and its primitives view) and the MLP, over many seeds. Run: npx tsx bench/op-check-false-alarms.ts [seeds]
 */

const seeds = Number(process.argv[2] ?? 200);
const ops: [string, (seed: number) => gg.Tensor[]][] = [
  ...(['neg', 'exp', 'square', 'sigmoid', 'tanh', 'softplus', 'relu', 'abs'] as const).map((name): [string, (seed: number) => gg.Tensor[]] => [name, (seed) => [gg[name](gg.randn([4, 5], { seed, requiresGrad: true }))]]),
  ...(['sqrt', 'log'] as const).map((name): [string, (seed: number) => gg.Tensor[]] => [name, (seed) => [gg[name](gg.rand([4, 5], { seed, requiresGrad: true }).add(0.1))]]),
  ...(['add', 'sub', 'mul', 'div'] as const).map((name): [string, (seed: number) => gg.Tensor[]] => [name, (seed) => [gg[name](gg.randn([4, 5], { seed, requiresGrad: true }), gg.randn([5], { seed: seed + 1, requiresGrad: true }).abs().add(0.5))]]),
  ['pow', (seed) => [gg.pow(gg.rand([4, 5], { seed, requiresGrad: true }).add(0.5), gg.randn([5], { seed: seed + 1, requiresGrad: true }))]],
  ['sum/mean/max/meanSquare', (seed) => { const x = gg.randn([4, 5], { seed, requiresGrad: true }); return [gg.sum(x, 0), gg.mean(x, 1), gg.max(x, 1), gg.meanSquare(x)]; }],
  ['matmul', (seed) => [gg.matmul(gg.randn([4, 5], { seed, requiresGrad: true }), gg.randn([5, 3], { seed: seed + 1, requiresGrad: true }))]],
  ['min/variance/std/logsumexp', (seed) => { const x = gg.randn([4, 5], { seed, requiresGrad: true }); return [gg.min(x, 1), gg.variance(x, 0), gg.std(x, 1), gg.logsumexp(x, 1)]; }],
  ['softmax/logSoftmax/crossEntropy', (seed) => {
    const x = gg.randn([4, 5], { seed, requiresGrad: true });
    return [gg.softmax(x, 1), gg.logSoftmax(x, 0), gg.crossEntropy(x, gg.tensor([0, 3, 1, 4]))];
  }],
  ['cat/stack/split/gather/permute', (seed) => {
    const x = gg.randn([4, 5], { seed, requiresGrad: true });
    const y = gg.randn([2, 5], { seed: seed + 1, requiresGrad: true });
    return [gg.cat([x, y], 0), gg.stack([x, x.mul(2)], 1), ...gg.split(x, 2, 0), gg.gather(x, 1, gg.tensor([[0], [4], [2], [2]])), gg.permute(x.reshape([2, 2, 5]), [2, 0, 1])];
  }],
  ['batchnorm', (seed) => [...buildBatchNorm({ batch: 8, features: 4, seed }).outputs]],
  ['batchnorm primitives', (seed) => [...buildBatchNorm({ batch: 8, features: 4, seed, primitives: true }).outputs]],
  ['mlp', (seed) => [...buildMlp({ batch: 8, features: 4, seed }).outputs]],
];
let total = 0;
let failures = 0;
let kinks = 0;
for (const [name, build] of ops) {
  let wrong = 0;
  for (let seed = 0; seed < seeds; seed++) {
    for (const check of gg.checkRecordedOps(build(seed), { seed })) {
      total++;
      if (check.status === 'kink') kinks++;
      if (check.status !== 'fail') continue;
      wrong++;
      console.log(`${name} seed ${seed}: ${gg.describeCulprit(check)}`);
    }
  }
  failures += wrong;
  console.log(`${name}: ${wrong} false alarms`);
}
console.log(`${failures} false alarms in ${total} op-input checks (${kinks} kinks) over ${seeds} seeds`);
