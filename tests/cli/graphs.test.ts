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

describe('graphs/', () => {
  it('is up to date with the code (npm start regenerates it)', async () => {
    const written = (await writeGallery(fresh)).map((path) => path.slice(fresh.length + 1)).sort();
    expect(readdirSync(committed).filter((file) => !file.startsWith('.')).sort()).toEqual(written);
    for (const file of written) {
      if (file.endsWith('.png')) continue;
      const message = `graphs/${file} is out of date: run npm start and commit graphs/`;
      expect(readFileSync(join(committed, file), 'utf8'), message).toBe(readFileSync(join(fresh, file), 'utf8'));
    }
  });
});
