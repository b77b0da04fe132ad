/**
 * `npm run bench`: every figure gradgraph's README quotes, measured side by side in one process.
 * Sections: bn, tfjs, chain, gradcheck, mlp, conv, trace, bookkeeping, torch (all by default; name some to run those).
 * `torch` runs every PyTorch comparison, each in a fresh process; torch-bn, torch-mlp, torch-gradcheck, torch-chain, torch-steps, torch-cnn and torch-pool run one.
 * GRADGRAPH_TORCH_MALLOC=reuse runs PyTorch with freed memory kept for reuse (see torch-peer.ts).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchBatchNorm, benchBookkeeping, benchTensorFlow } from './batchnorm.js';
import { benchChain } from './chain.js';
import { benchConv } from './conv.js';
import { benchGradcheck } from './gradcheck.js';
import { benchMlp } from './mlp.js';
import { loadTensorFlow } from './peer.js';
import { TORCH_PARTS, benchTorch } from './torch.js';
import { torchMalloc } from './torch-peer.js';
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
  torch: () => inFreshProcesses(TORCH_PARTS.map((part) => `torch-${part}`)),
  ...Object.fromEntries(TORCH_PARTS.map((part) => [`torch-${part}`, () => benchTorch([part])])),
};

/**
 * Runs each section in a process of its own (and so with a PyTorch peer of its own): a part run
 * after another inherits its heap, its buffer pool and its JIT state, and PyTorch's side its
 * allocator's. Run after the BN and MLP parts in one process, gradcheck took 1.7–2.5 s where it
 * takes 1.4 s alone.
 */
function inFreshProcesses(names: readonly string[]): void {
  for (const name of names) {
    const { status } = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], { stdio: 'inherit', env: { ...process.env, GRADGRAPH_BENCH_CHILD: '1' } });
    if (status !== 0) throw new Error(`bench: the section ${name} failed (exit ${status})`);
  }
}

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in sections));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; the sections are ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}
try {
  torchMalloc();
} catch (error) {
  console.error((error as Error).message.replace(/^benchmark/, 'bench'));
  process.exit(2);
}
if (process.env.GRADGRAPH_BENCH_CHILD !== '1') console.log(`gradgraph benchmarks on ${os.cpus()[0]?.model ?? 'an unknown CPU'} (${os.cpus().length} cores), Node ${process.version}`);
for (const name of asked.length > 0 ? asked : Object.keys(sections)) await sections[name]();
