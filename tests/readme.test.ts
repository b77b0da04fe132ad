import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/* The README's tour runs as written and prints what the README says it prints. */

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The tour: a TypeScript block, then a plain block with what it prints. */
function tour(): { code: string; shown: string } {
  const match = /## A short tour\n[\s\S]*?```ts\n([\s\S]*?)```\s*```\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README: no tour (a ```ts block followed by its output) under "## A short tour"');
  return { code: match[1], shown: match[2] };
}

describe('README', () => {
  it('the tour prints the gradcheck table it shows', () => {
    const { code, shown } = tour();
    const dir = mkdtempSync(join(tmpdir(), 'gradgraph-readme-'));
    try {
      const file = join(dir, 'tour.ts');
      writeFileSync(file, code);
      // Run from the repository, whose tsconfig maps `gradgraph` to src/ for tsx.
      const { status, stdout, stderr } = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(stdout.trim()).toBe(shown.trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
