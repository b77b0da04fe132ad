import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * A Node application bundled with gradgraph inside it, run from a folder with no node_modules:
 * importing gradgraph must look up no file, and drawing SVG must work there too.
 */

const work = mkdtempSync(join(tmpdir(), 'gradgraph-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a bundled Node application', () => {
  it('starts and draws SVG; PNG says which files to ship', async () => {
    const entry = join(work, 'app.ts');
    writeFileSync(entry, `
      import { randn, batchNorm, toDot, render, svgToPng } from 'gradgraph';
      const y = batchNorm(randn([4, 3], { seed: 0, name: 'x', requiresGrad: true }), null, null);
      const svg = await render(toDot(y));
      console.log(svg.includes('>x̂</text>') ? 'svg drawn' : 'no svg');
      console.log(await svgToPng(svg).then(() => 'png drawn', (error) => error.message));
    `);
    const out = join(work, 'app.mjs');
    await build({
      entryPoints: [entry],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      alias: { gradgraph: fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
      logLevel: 'silent',
    });
    const result = spawnSync(process.execPath, [out], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    const [svgLine, pngLine] = result.stdout.trim().split('\n');
    expect(svgLine).toBe('svg drawn');
    expect(pngLine).toMatch(/^svgToPng: cannot find @resvg\/resvg-wasm\/index_bg\.wasm from file:.*app\.mjs; install its package beside gradgraph \(a bundled application must ship node_modules\/@resvg\/resvg-wasm too\)$/);
  });
});
