/**
 * `npm run bench`: every figure gradgraph's README quotes, measured side by side in one process.
 * Sections: bn, tfjs, chain, gradcheck, mlp, conv, trace, bookkeeping, torch (all by default; name some to run those).
 * `torch` runs every PyTorch comparison; torch-bn, torch-mlp, torch-gradcheck and torch-chain run one.
 */
import os from 'node:os';
import { benchBatchNorm, benchBookkeeping, benchTensorFlow } from './batchnorm.js';
import { benchChain } from './chain.js';
import { benchConv } from './conv.js';
import { benchGradcheck } from './gradcheck.js';
import { benchMlp } from './mlp.js';
import { loadTensorFlow } from './peer.js';
import { TORCH_PARTS, benchTorch } from './torch.js';
import { benchTrace } from './trace.js';

const sections: Record<string, () => void | Promise<void>> = {
  bn: benchBatchNorm,
  bookkeeping: benchBookkeeping,
  tfjs: async () => {
    const tf = await loadTensorFlow();
    if (tf) benchTensorFlow(tf);
  },
  chain: benchChain,
  gradcheck: benchGradcheck,
  mlp: benchMlp,
  conv: benchConv,
  trace: benchTrace,
  torch: () => benchTorch(),
  ...Object.fromEntries(TORCH_PARTS.map((part) => [`torch-${part}`, () => benchTorch([part])])),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in sections));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; the sections are ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}
console.log(`gradgraph benchmarks on ${os.cpus()[0]?.model ?? 'an unknown CPU'} (${os.cpus().length} cores), Node ${process.version}`);
for (const name of asked.length > 0 ? asked : Object.keys(sections)) await sections[name]();
