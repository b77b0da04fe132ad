/**
 * Peak resident set of gradgraph's backward through a chain of `length` muls (argv[2]), run in a
 * fresh process by `npm run bench -- torch` so no earlier case's heap is counted. Prints JSON:
 * RSS before building, peak RSS, backward ms (the same fields as torch_chain_memory.py).
 */
import { tensor } from '../src/index.js';

const length = Number(process.argv[2]);
const x = tensor([1, 2, 3, 4], { requiresGrad: true });
const before = process.memoryUsage().rss;
let y = x;
for (let i = 0; i < length; i++) y = y.mul(1.0000001);
const total = y.sum();
const t0 = performance.now();
total.backward();
const backwardMs = performance.now() - t0;
const peakBytes = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({ beforeBytes: before, peakBytes, backwardMs }));
