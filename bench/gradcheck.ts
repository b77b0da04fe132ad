import { batchNorm, gradcheck, randn, type Tensor } from '../src/index.js';
import { measure, ms, pairedRatio, printTable, ratio } from './harness.js';

/* gradcheck of BN, full Jacobian against fast mode's random projections. */

function inputs(n: number, d: number): Tensor[] {
  return [
    randn([n, d], { seed: 1, requiresGrad: true, name: 'x' }),
    randn([d], { seed: 2, requiresGrad: true, name: 'gamma' }),
    randn([d], { seed: 3, requiresGrad: true, name: 'beta' }),
  ];
}

const bn = (x: Tensor, gamma: Tensor, beta: Tensor) => batchNorm(x, gamma, beta);

export function benchGradcheck(): void {
  const rows = [['shape', 'full ms', 'fast ms', 'full / fast', 'target']];
  for (const [n, d, rounds] of [[32, 16, 5], [64, 64, 1]] as const) {
    const args = inputs(n, d);
    const [full, fast] = measure([
      { name: 'full', run: () => gradcheck(bn, args) },
      { name: 'fast', run: () => gradcheck(bn, args, { fastMode: true }) },
    ], { rounds, warmup: 1 });
    if (!gradcheck(bn, args, { fastMode: true }).passed) throw new Error('benchmark: gradcheck of BN failed');
    rows.push([`${n}×${d}`, ms(full.medianMs), ms(fast.medianMs), ratio(pairedRatio(full, fast)), n === 64 ? '≥ 20×' : '']);
  }
  const large = inputs(256, 64);
  const [fastLarge] = measure([{ name: 'fast', run: () => gradcheck(bn, large, { fastMode: true }) }], { rounds: 10, warmup: 1 });
  rows.push(['256×64', '(not run)', ms(fastLarge.medianMs), '', '']);
  printTable('gradcheck of batchNorm (x, gamma, beta)', rows);
}
