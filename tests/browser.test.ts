import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHtml, trace, type ExplorerData, type Tensor } from 'gradgraph';
import { buildBatchNorm, buildMlp } from '../src/cli/models.js';
import { runBackward } from '../src/cli/pictures.js';
import { CHROMIUM, bundleForPage, launchChromium } from './chromium.js';

/*
 * gradgraph in a real browser: the explorer page, and the package bundled for a web page. One
 * Chromium for the whole file; each test opens its own page.
 */

const work = mkdtempSync(join(tmpdir(), 'gradgraph-browser-'));
let browser: Browser;
beforeAll(async () => {
  if (CHROMIUM !== null) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Writes the page to a file and opens it, recording every request and every error it makes. */
async function open(name: string, html: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const file = join(work, name);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, requests: requests.filter((url) => url !== pathToFileURL(file).href), errors };
}

/** The explorer of BN (or the MLP) after a backward pass; `x` is the input batch. */
async function explorer(model: typeof buildBatchNorm | typeof buildMlp, sizes = { batch: 4, features: 3, seed: 0 }): Promise<{ x: Tensor; html: string }> {
  const built = model(sizes);
  runBackward(built.outputs, 'retain', sizes.seed);
  const html = await toHtml(built.outputs, { title: built.title, dims: built.dims });
  const x = trace(built.outputs).getNodeAttributes('t0');
  expect(x.label).toBe('x');
  return { x: built.inputs[0], html };
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
const numbers = async (page: Page, selector: string) => (await page.locator(`${selector} td`).allInnerTexts()).map(Number);

describe.skipIf(CHROMIUM === null)('the explorer page in Chromium', () => {
  let bn: { x: Tensor; html: string };
  beforeAll(async () => {
    bn = await explorer(buildBatchNorm);
  });

  it('loads offline: no request beyond its own file, no error', async () => {
    const { page, requests, errors } = await open('bn.html', bn.html);
    await page.waitForSelector('body[data-ready="true"]');
    await page.keyboard.press('End');
    await page.hover('#viewport g.node[data-key="t0"]');
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    expect(await page.locator('#viewport svg g.node').count()).toBeGreaterThan(15);
    await page.close();
  });

  it('walks the forward pass in order, then the backward pass in reverse with running sums', async () => {
    const { page } = await open('bn-steps.html', bn.html);
    const data = JSON.parse(await page.locator('#gradgraph-data').textContent() as string) as ExplorerData;
    const headings: string[] = [];
    for (let i = 0; i < data.steps.length; i++) {
      await page.keyboard.press('ArrowRight');
      headings.push(await text(page, '#step-label'));
    }
    const forward = headings.filter((h) => h.includes('· forward: ')).map((h) => h.split('· forward: ')[1]);
    expect(forward).toEqual(['mean', 'subtract', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift']);
    expect(headings[0]).toBe(`Step 1 of ${data.steps.length} · forward: mean`);
    expect(headings[8]).toBe(`Step 9 of ${data.steps.length} · backward starts: ∂L/∂y`);
    const backward = headings.slice(9).map((h) => h.split('· backward: ')[1]);
    expect(backward.slice(0, 2)).toEqual(['shift → γ·x̂', 'shift → β']);
    expect(backward.at(-1)).toBe('mean → x');
    // The gradient edge of the last step is lit: mean passing back to x.
    const lit = await page.locator('#viewport g.gradient-edge.lit title').allTextContents();
    expect(lit).toEqual(['t0->op0']);

    // x feeds subtract and mean: its gradient gathers two parts; at the second the running sum is the whole.
    expect(await text(page, '#panel')).toContain('part 2 of 2 of ∂L/∂x back to x');
    const sum = await numbers(page, '#panel .running-sum');
    const { x } = bn;
    expect(sum).toHaveLength(12);
    sum.forEach((v, i) => expect(v).toBeCloseTo(x.grad!.data[i], 2));

    // Back with the buttons and the slider.
    await page.click('#step-back');
    expect(await text(page, '#step-label')).toBe(headings.at(-2));
    await page.locator('#step-slider').fill('2');
    expect(await text(page, '#step-label')).toBe(headings[1]);
    expect(await page.locator('#viewport g.node.lit').count()).toBe(4); // x, μ, subtract, x − μ
    await page.click('#step-first');
    expect(await page.locator('#viewport svg.stepping').count()).toBe(0);
    await page.close();
  });

  it('shows a tensor\'s shape, values and gradient on hover, as a table or a heatmap', async () => {
    const { page } = await open('bn-hover.html', bn.html);
    await page.hover('#viewport g.node[data-key="t0"]');
    expect(await text(page, '#panel h2')).toBe('x · N×D (4×3) · input');
    const { x } = bn;
    (await numbers(page, '#panel .value')).forEach((v, i) => expect(v).toBeCloseTo(x.data[i], 2));
    (await numbers(page, '#panel .gradient')).forEach((v, i) => expect(v).toBeCloseTo(x.grad!.data[i], 2));
    expect(await page.locator('#panel .value tr').count()).toBe(4);
    await page.close();

    const large = await explorer(buildBatchNorm, { batch: 16, features: 8, seed: 1 });
    const { page: second } = await open('bn-large.html', large.html);
    await second.hover('#viewport g.node[data-key="t0"]');
    expect(await second.locator('#panel .value').getAttribute('data-view')).toBe('heatmap');
    expect(await second.locator("#panel .value canvas").evaluate((c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height])).toEqual([8, 16]);
    await second.close();
  });

  it('shows an op\'s local gradients on click, and keeps them when the pointer leaves', async () => {
    const { page } = await open('bn-op.html', bn.html);
    const data = JSON.parse(await page.locator('#gradgraph-data').textContent() as string) as ExplorerData;
    const divide = Object.values(data.ops).find((op) => op.label === 'divide')!;
    await page.click(`#viewport g.node[data-key="${divide.key}"]`);
    await page.hover('#viewport g.node[data-key="t0"]');
    expect(await text(page, '#panel h2')).toBe('divide · op');
    const formulas = await page.locator('#panel .formula').allInnerTexts();
    expect(formulas).toHaveLength(2);
    expect(formulas[0]).toMatch(/^∂L\/∂\(x − μ\) \+= /);
    expect(formulas[1]).toMatch(/^∂L\/∂σ = /);
    // What it passed back to each input, beside the formulas.
    expect(await page.locator('#panel .gradient h3').allInnerTexts()).toEqual(['passed back to x − μ', 'passed back to σ']);
    await page.close();
  });

  it('pans and zooms', async () => {
    const { page } = await open('bn-zoom.html', bn.html);
    const viewBox = async () => (await page.locator('#viewport svg').getAttribute('viewBox'))!.split(' ').map(Number);
    const [, , width] = await viewBox();
    await page.mouse.move(500, 400);
    await page.mouse.wheel(0, -300);
    expect((await viewBox())[2]).toBeLessThan(width);
    const before = await viewBox();
    await page.mouse.down();
    await page.mouse.move(600, 450, { steps: 4 });
    await page.mouse.up();
    const after = await viewBox();
    expect(after[0]).toBeLessThan(before[0]);
    expect(after[1]).toBeLessThan(before[1]);
    await page.click('#zoom-fit');
    expect((await viewBox())[2]).toBeCloseTo(width, 5);
    await page.close();
  });

  it('folds a module box on click and unfolds it again', async () => {
    const mlp = await explorer(buildMlp);
    const { page, errors } = await open('mlp.html', mlp.html);
    const visible = () => page.locator('#viewport g.node:not(.folded)').count();
    const all = await visible();
    await page.locator('#viewport g.cluster text', { hasText: 'bn: BatchNorm1d' }).click();
    const cover = page.locator('#viewport .module-cover.shown');
    expect(await cover.innerHTML()).toContain('bn: BatchNorm1d (');
    const folded = await visible();
    expect(folded).toBeLessThan(all - 5);
    await cover.click();
    expect(await visible()).toBe(all);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe.skipIf(CHROMIUM === null)('gradgraph bundled for a web page', () => {
  it('renders the BN graph to SVG in the page, and says what to do instead of PNG', async () => {
    const entry = join(work, 'entry.ts');
    writeFileSync(entry, `
      import { randn, batchNorm, toDot, render, svgToPng } from 'gradgraph';
      const x = randn([4, 3], { seed: 0, name: 'x', requiresGrad: true });
      const gamma = randn([3], { seed: 1, name: 'γ', isParameter: true });
      const beta = randn([3], { seed: 2, name: 'β', isParameter: true });
      const svg = await render(toDot(batchNorm(x, gamma, beta)));
      document.getElementById('graph').innerHTML = svg;
      document.body.dataset.png = await svgToPng(svg).then(() => 'made', (error) => error.message);
      document.body.dataset.done = 'true';
    `);
    const script = await bundleForPage(entry);
    const { page, requests, errors } = await open('bundle.html', `<!DOCTYPE html><meta charset="utf-8"><body><div id="graph"></div><script type="module">${script}</script>`);
    await page.waitForSelector('body[data-done="true"]', { timeout: 60_000 });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator('#graph svg text').filter({ hasText: /^x̂$/ }).count()).toBe(1);
    expect(await page.locator('body').getAttribute('data-png')).toMatch(/^svgToPng: PNG output needs Node .* in a browser, render SVG with render\(dot\)/);
    await page.close();
  });
});
