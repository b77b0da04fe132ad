import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/* The built package, as a user of plain JavaScript imports it (dist is built by `prepare` on install). */

describe('the built package', () => {
  it('is built', () => {
    expect(existsSync('dist/index.js'), 'dist/ is missing: npm install runs `prepare`, or run `npm run build`').toBe(true);
    expect(existsSync('dist/index.d.ts')).toBe(true);
  });

  it('imports as `gradgraph` from plain JavaScript and differentiates', () => {
    const script = `
      import { tensor, gradcheck } from 'gradgraph';
      const x = tensor([1, 2, 3], { requiresGrad: true });
      x.mul(x).sum().backward();
      const ok = gradcheck((t) => t.tanh(), [x]).passed;
      console.log(JSON.stringify({ grad: x.grad.toArray(), ok }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ grad: [2, 4, 6], ok: true });
  });
});

describe('the built gradgraph command', () => {
  const bin = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  const userGraph = fileURLToPath(new URL('./cli/fixtures/my-graph.ts', import.meta.url));
  // From another folder, as a user who installed gradgraph runs it.
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000 });

  it('draws the BN graph', () => {
    const { status, stdout, stderr } = run('draw', 'batchnorm', '--format', 'dot');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^digraph "gradgraph" \{/);
    expect(stdout).toContain('label="variance"');
  });

  it("loads a user's TypeScript module and draws what it builds", () => {
    const { status, stdout, stderr } = run('draw', userGraph, '--format', 'dot');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^digraph/);
  });

  it('prints the version of its package.json', () => {
    const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(run('--version').stdout).toBe(`${version}\n`);
  });

  it('reports bad use in one line with exit code 2', () => {
    const { status, stderr } = run('paint');
    expect(status).toBe(2);
    expect(stderr).toMatch(/^gradgraph: [^\n]+\n$/);
  });
});
