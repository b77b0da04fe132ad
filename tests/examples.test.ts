import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/*
 * Each example checks its own claim and exits non-zero when it does not hold; this runs them
 * as a user would (tsx resolves 'gradgraph' to src through tsconfig paths) and looks for the
 * line that states the claim.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

// The CNN trains two networks on real images: about 5 s of CPU, more wall time when the machine is shared.
const examples: [name: string, keyLine: RegExp, timeout?: number][] = [
  ['undo-batchnorm', /✓ batch norm with γ = √\(σ² \+ ε\), β = μ returns x/],
  ['do-gamma-beta-undo', /✓ the learned γ are far from the undo values/],
  ['why-scale-and-shift', /✓ and reaches a much lower training loss/],
  ['mlp-with-batchnorm', /✓ with BN the training loss ends lower/],
  ['cnn-with-batchnorm', /✓ with BN the test accuracy reaches 85% in fewer epochs/, 90_000],
];

describe('examples', () => {
  it.concurrent.each(examples)('%s runs, and its claims hold', async (name, keyLine, timeout = 30_000) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { cwd: root, timeout });
    expect(stdout).toMatch(keyLine);
    expect(stdout).not.toMatch(/✗/);
  }, 120_000);
});
