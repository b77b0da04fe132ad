import { render, svgToPng, toDot } from '../../src/index.js';
import { buildBatchNorm, DEFAULT_SIZES } from '../../src/cli/models.js';

/*
 * Run as its own process by render.test.ts: renders the BN graph to PNG `count` times and prints
 * how much the resident set grew, so that memory kept by each render shows up as growth.
 */
const count = Number(process.argv[2]);
const svg = await render(toDot(buildBatchNorm(DEFAULT_SIZES).outputs));
// The first render loads the rasteriser and grows its memory to what one render needs.
await svgToPng(svg);
const before = process.memoryUsage().rss;
let bytes = 0;
for (let i = 0; i < count; i++) bytes += (await svgToPng(svg)).length;
process.stdout.write(JSON.stringify({ count, bytes, grownMb: (process.memoryUsage().rss - before) / 2 ** 20 }));
