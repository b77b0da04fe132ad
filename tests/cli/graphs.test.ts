import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeGallery } from '../../src/cli/pictures.js';

/*
 * graphs/ holds the committed pictures the README shows. They are regenerated here and must
 * match byte for byte: run `npm start` and commit the result when this fails. DOT and SVG are
 * compared; PNG only for being present, since rasterisers may differ in the last bit of
 * anti-aliasing between builds, and a PNG is drawn from an SVG that is compared.
 */

const committed = fileURLToPath(new URL('../../graphs/', import.meta.url));
const fresh = mkdtempSync(join(tmpdir(), 'gradgraph-graphs-'));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

/** Committed beside the pictures but not drawn by npm start: the README's screenshot of batchnorm.html in Chromium. */
const SCREENSHOTS = ['batchnorm-explorer.png'];

describe('graphs/', () => {
  it('is up to date with the code (npm start regenerates it)', async () => {
    const written = (await writeGallery(fresh)).map((path) => path.slice(fresh.length + 1)).sort();
    expect(readdirSync(committed).filter((file) => !file.startsWith('.') && !SCREENSHOTS.includes(file)).sort()).toEqual(written);
    for (const file of written) {
      if (file.endsWith('.png')) continue;
      const message = `graphs/${file} is out of date: run npm start and commit graphs/`;
      expect(readFileSync(join(committed, file), 'utf8'), message).toBe(readFileSync(join(fresh, file), 'utf8'));
    }
  });

  it('has the BN backward picture carry every step\'s number and local gradient, and a legend', () => {
    const dot = readFileSync(join(committed, 'batchnorm-backward.dot'), 'utf8');
    const ops = [...dot.matchAll(/"op\d+" \[shape="ellipse", [^\]]*label="(\d+)\. ([^"]+)"\]/g)].map((m) => `${m[1]}. ${m[2]}`);
    expect(ops).toEqual(['1. mean', '2. subtract', '3. variance', '4. add ε', '5. sqrt', '6. divide', '7. scale', '8. shift']);
    // One gradient edge per input that needs one (ε does not), each with its backward step and formula.
    const gradients = [...dot.matchAll(/dir="back", style="dashed", color="#c0392b", fontcolor="#c0392b", label="\((\d)\) (∂L\/∂[^"]+?) \+?= ?(?:\\n)?([^"]+)"/g)];
    expect(gradients.map((m) => `(${m[1]}) ${m[2]}`)).toEqual([
      '(8) ∂L/∂x', '(7) ∂L/∂x', '(7) ∂L/∂μ', '(6) ∂L/∂(x − μ)', '(5) ∂L/∂σ²', '(4) ∂L/∂(σ² + ε)',
      '(3) ∂L/∂(x − μ)', '(3) ∂L/∂σ', '(2) ∂L/∂x̂', '(2) ∂L/∂γ', '(1) ∂L/∂(γ·x̂)', '(1) ∂L/∂β',
    ]);
    expect(dot).toContain('(3) ∂L/∂σ =\\n−Σₙ ∂L/∂x̂ · (x − μ) / σ²');
    expect(dot).toContain('(1) ∂L/∂β = Σₙ ∂L/∂y');
    expect(dot).toContain('subgraph "cluster_legend"');
  });
});
