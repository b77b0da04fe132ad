import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderSvg } from 'gradgraph';
import { svgTexts } from './helpers.js';

/*
 * The DOT gradgraph writes must mean the same to the renderers users reach for: graphviz-cli
 * (`npx graphviz -Tsvg`, a 2022 WebAssembly Graphviz 5) and a stock Graphviz `dot`. Each must
 * accept every golden file and draw exactly the text viz-js draws: a renderer that dropped a
 * label or read an escape differently would show up here.
 */

const goldenDir = fileURLToPath(new URL('./golden/', import.meta.url));
const goldens = readdirSync(goldenDir).filter((file) => file.endsWith('.dot')).sort();
// What `npx graphviz` runs; graphviz-cli's exports map hides its package.json from resolve().
const graphvizCli = fileURLToPath(new URL('../../node_modules/graphviz-cli/bin/graphviz.cjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gradgraph-compat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const stockDot = spawnSync('dot', ['-V'], { encoding: 'utf8' });
const hasStockDot = stockDot.status === 0;

const sorted = (texts: string[]) => [...texts].sort();

describe('renderer compatibility', () => {
  it('has golden files to check', () => expect(goldens.length).toBeGreaterThan(5));

  for (const file of goldens) {
    it(`graphviz-cli renders ${file} with the same text as viz-js`, async () => {
      const out = join(work, `${file}.cli.svg`);
      execFileSync(process.execPath, [graphvizCli, '-Tsvg', `-o${out}`, join(goldenDir, file)], { stdio: 'pipe' });
      const expected = svgTexts(await renderSvg(readFileSync(join(goldenDir, file), 'utf8')));
      expect(sorted(svgTexts(readFileSync(out, 'utf8')))).toEqual(sorted(expected));
    });

    it(`stock Graphviz dot renders ${file} with the same text as viz-js`, async (context) => {
      if (!hasStockDot) context.skip('no `dot` on PATH (apt-get install graphviz to run this check)');
      const svg = execFileSync('dot', ['-Tsvg', join(goldenDir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const expected = svgTexts(await renderSvg(readFileSync(join(goldenDir, file), 'utf8')));
      expect(sorted(svgTexts(svg))).toEqual(sorted(expected));
    });
  }
});
