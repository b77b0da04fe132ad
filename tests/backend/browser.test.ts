import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM, bundleForPage, launchChromium } from '../chromium.js';

/*
 * The WebAssembly kernels in a page: gradgraph bundled for the browser picks them by default,
 * compiles all their modules on the page's main thread, and they agree with the JavaScript loops
 * there too: fused batch norm (the first module), a full-size tensor divided by a row and relu
 * forward and backward (the second), and a convolution's matrix products (the third).
 */

const work = mkdtempSync(join(tmpdir(), 'gradgraph-kernels-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(CHROMIUM === null)('the kernels in Chromium', () => {
  it('run fused batch norm, x / row, relu and conv2d\'s products on WebAssembly SIMD by default, bit for bit as the JavaScript loops', async () => {
    const entry = join(work, 'entry.ts');
    writeFileSync(entry, `
      import { batchNormFused, conv2d, getKernels, grad, randn, setKernels, tidy } from 'gradgraph';
      const step = (shape) => {
        const x = randn(shape, { seed: 1, requiresGrad: true });
        const gamma = randn([shape[1]], { seed: 2, requiresGrad: true });
        const beta = randn([shape[1]], { seed: 3, requiresGrad: true });
        const y = batchNormFused(x, gamma, beta);
        return [y, ...grad(y, [x, gamma, beta], { gradOutputs: [randn(shape, { seed: 4 })] })].map((t) => Array.from(t.data));
      };
      // 8,192 values: enough for the kernels (worthSimdKernels).
      const quotient = () => Array.from(randn([128, 64], { seed: 5 }).div(randn([64], { seed: 6 })).data);
      // Its columns and output in the kernels' memory, where the products run on WebAssembly.
      const convolution = () => tidy(() => {
        const x = randn([16, 1, 28, 28], { seed: 7 }), weight = randn([8, 1, 3, 3], { seed: 8, requiresGrad: true });
        const y = conv2d(x, weight, null, { padding: 1 });
        return [y, ...grad(y, [weight], { gradOutputs: [randn(y.shape, { seed: 9 })] })].map((t) => Array.from(t.data));
      });
      // 8,192 values of either sign.
      const rectified = () => tidy(() => {
        const x = randn([64, 128], { seed: 10, requiresGrad: true });
        const y = x.relu();
        return [y, ...grad(y, [x], { gradOutputs: [randn(y.shape, { seed: 12 })] })].map((t) => Array.from(t.data));
      });
      const shapes = [[64, 33], [8, 3, 5, 5]];
      const chosen = getKernels();
      const fast = shapes.map(step), fastQuotient = quotient(), fastConvolution = convolution(), fastRelu = rectified();
      setKernels('js');
      const reference = shapes.map(step), referenceQuotient = quotient(), referenceConvolution = convolution(), referenceRelu = rectified();
      let worst = 0;
      fast.forEach((tensors, s) => tensors.forEach((values, t) => values.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - reference[s][t][i]) / Math.max(1, Math.abs(reference[s][t][i])));
      })));
      document.body.dataset.kernels = chosen;
      document.body.dataset.worst = String(worst);
      document.body.dataset.identical2d = String(fast[0].every((values, t) => values.every((v, i) => Object.is(v, reference[0][t][i]))));
      document.body.dataset.identicalQuotient = String(fastQuotient.every((v, i) => Object.is(v, referenceQuotient[i])));
      document.body.dataset.identicalConvolution = String(fastConvolution.every((values, t) => values.every((v, i) => Object.is(v, referenceConvolution[t][i]))));
      document.body.dataset.identicalRelu = String(fastRelu.every((values, t) => values.every((v, i) => Object.is(v, referenceRelu[t][i]))));
    `);
    const script = await bundleForPage(entry);
    const file = join(work, 'kernels.html');
    writeFileSync(file, `<!DOCTYPE html><meta charset="utf-8"><body><script type="module">${script}</script>`);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-worst]', { state: 'attached', timeout: 60_000 });
      expect(errors).toEqual([]);
      const body = page.locator('body');
      expect(await body.getAttribute('data-kernels')).toBe('wasm');
      expect(await body.getAttribute('data-identical2d')).toBe('true');
      expect(await body.getAttribute('data-identical-quotient')).toBe('true');
      expect(await body.getAttribute('data-identical-convolution')).toBe('true');
      expect(await body.getAttribute('data-identical-relu')).toBe('true');
      expect(Number(await body.getAttribute('data-worst'))).toBeLessThan(1e-12);
    } finally {
      await browser.close();
    }
  });
});
