import { analyze, tensor, toDot, trace, type Tensor } from '../src/index.js';
import os from 'node:os';
import { measure, median, ms, printTable } from './harness.js';

/*
 * trace() of a tensor used 100,000 times: a chain `acc = acc.add(x)`, and 100,000 separate
 * outputs `x.mul(2)` traced together. Target: trace() under a second for each (issue #10).
 * The CPU time is shown beside the wall time: it is steadier on a loaded machine. A fast trace()
 * is worth nothing if what reads it is slow, so the readers of the whole chain are timed too:
 * analyze() and toDot() of trace(outputs), each from the tensors, and the heap the trace holds.
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
  benchReaders(cases[0].name, cases[0].outputs);
  console.log(`load average over the last minute: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
}

/** analyze() and toDot() of a whole trace, from the tensors, and the heap the trace keeps alive. */
function benchReaders(name: string, outputs: Tensor | Tensor[]): void {
  const timings = measure([
    { name: 'analyze(trace(outputs))', run: () => analyze(trace(outputs)) },
    { name: 'toDot(trace(outputs))', run: () => toDot(trace(outputs)) },
  ], { rounds: 3, warmup: 1 });
  printTable(`Reading the trace of ${name} (medians of 3 rounds)`, [
    ['reader', 'ms'],
    ...timings.map(({ name: reader, medianMs }) => [reader, ms(medianMs)]),
    ['heap the trace holds, MB', retainedMb(() => trace(outputs)).toFixed(1)],
  ]);
}

/** Heap still in use while what `make` returns is alive, after full collections (needs --expose-gc, as `npm run bench` runs). */
function retainedMb(make: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return NaN;
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make();
  gc();
  const after = process.memoryUsage().heapUsed;
  // Read after measuring, so `kept` is still alive when the heap is measured.
  if (kept === undefined) console.log('nothing kept');
  return (after - before) / 1e6;
}
