import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
