import { tensor, trace, type Tensor } from '../src/index.js';
import os from 'node:os';
import { measure, median, ms, printTable } from './harness.js';

/*
 * trace() of a tensor used 100,000 times: a chain `acc = acc.add(x)`, and 100,000 separate
 * outputs `x.mul(2)` traced together. Target: trace() under a second for each (issue #10).
 * The CPU time is shown beside the wall time: it is steadier on a loaded machine.
 */

const USES = 100_000;
const TARGET_MS = 1000;

function sharedChain(): Tensor {
  const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
  let acc = tensor([0, 0], { requiresGrad: true });
  for (let i = 0; i < USES; i++) acc = acc.add(x);
  return acc;
}

function separateOutputs(): Tensor[] {
  const x = tensor([1, 2], { requiresGrad: true, name: 'x' });
  return Array.from({ length: USES }, () => x.mul(2));
}

const ROUNDS = 5;

/** CPU milliseconds of this process (all its threads, the garbage collector's too): steadier than wall time on a loaded machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export function benchTrace(): void {
  const cases = [
    { name: `acc = acc.add(x), ${USES.toLocaleString('en')} times`, outputs: sharedChain() },
    { name: `${USES.toLocaleString('en')} outputs x.mul(2), traced together`, outputs: separateOutputs() },
  ];
  const elements = cases.map(({ outputs }) => {
    const graph = trace(outputs);
    return graph.order + graph.size;
  });
  const cpu: number[][] = cases.map(() => []);
  const timings = measure(cases.map(({ name, outputs }, i) => ({
    name,
    run: () => {
      const start = cpuMs();
      trace(outputs);
      cpu[i].push(cpuMs() - start);
    },
  })), { rounds: ROUNDS, warmup: 1 });
  const verdict = (time: number) => (time < TARGET_MS ? 'under 1 s' : 'OVER 1 s');
  printTable(`trace() of a tensor used ${USES.toLocaleString('en')} times (medians of ${ROUNDS} rounds; target: trace() < ${TARGET_MS} ms)`, [
    ['case', 'nodes + edges', 'trace() ms', 'target', 'its CPU ms'],
    ...cases.map(({ name }, i) => [name, elements[i].toLocaleString('en'), ms(timings[i].medianMs), verdict(timings[i].medianMs), ms(median(cpu[i].slice(-ROUNDS)))]),
  ]);
  console.log(`load average over the last minute: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
}
