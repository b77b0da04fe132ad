import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/* The README's tour runs as written and prints what the README says it prints. */

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** A TypeScript block, then a plain block with what it prints, the first after `heading`. */
function snippet(heading: string): { code: string; shown: string } {
  const start = readme.indexOf(`${heading}\n`);
  const match = start < 0 ? null : /```ts\n([\s\S]*?)```\s*```\n([\s\S]*?)```/.exec(readme.slice(start));
  if (!match) throw new Error(`README: no \`\`\`ts block followed by its output under "${heading}"`);
  return { code: match[1], shown: match[2] };
}

/** Runs a snippet from the repository, whose tsconfig maps `gradgraph` to src/ for tsx, and returns what it printed. */
function runSnippet(code: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gradgraph-readme-'));
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, code);
    return spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('README', () => {
  it.each(['## A short tour', '### A classifier', '## Memory in loops: `tidy(fn)`, `keep(t)`, `emptyPool()`'])('%s prints what the README shows', (heading) => {
    const { code, shown } = snippet(heading);
    const { status, stdout, stderr } = runSnippet(code);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout.trim()).toBe(shown.trim());
  });
});
