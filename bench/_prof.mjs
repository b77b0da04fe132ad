import { tensor, trace, analyze, toDot } from '../dist/index.js';
const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
let acc = tensor([0, 0], { requiresGrad: true });
for (let i = 0; i < 100_000; i++) acc = acc.add(x);
const which = process.argv[2] ?? 'trace';
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  if (which === 'trace') trace(acc);
  else if (which === 'analyze') analyze(trace(acc));
  else toDot(trace(acc));
  console.log(which, (performance.now() - t0).toFixed(0));
}
