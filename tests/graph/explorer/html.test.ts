import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tensor, toHtml } from 'gradgraph';
import { BUNDLE_FILE, pageBundle } from '../../../src/graph/explorer/page/build.js';
import { standInBatchNorm, upstream } from '../fixtures.js';

describe('toHtml', () => {
  it('writes one page with everything inline and a policy that forbids every request', async () => {
    const { y } = standInBatchNorm();
    y.backward(upstream(y), { retainGrads: true });
    const html = await toHtml(y, { title: 'BN <test>', dims: { N: 4, D: 3 } });
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`);
    expect(html).toContain('<title>BN &lt;test&gt;</title>');
    // Nothing to fetch: no src or href attributes, no stylesheet links, no imports.
    expect(html).not.toMatch(/\s(src|href)=|<link|@import|\bimport\(/);
    expect(html.match(/<svg/g)).toHaveLength(1);
    expect(html.match(/<script/g)).toHaveLength(2);
    const data = JSON.parse(/<script type="application\/json" id="gradgraph-data">([\s\S]*?)<\/script>/.exec(html)![1]) as { steps: unknown[] };
    expect(data.steps.length).toBeGreaterThan(16);
  });

  it('cannot be closed early by a name that looks like markup', async () => {
    const name = '</script><script>alert(1)</script><!--';
    const x = tensor([1, 2], { requiresGrad: true, name });
    const html = await toHtml(x.mul(2));
    // Only the page's own two scripts end; the name comes back whole from the data.
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const data = JSON.parse(/<script type="application\/json" id="gradgraph-data">([\s\S]*?)<\/script>/.exec(html)![1]) as { tensors: Record<string, { label: string }> };
    expect(data.tensors.t0.label).toBe(name);
  });

  it('names what it was given when it is not a tensor', async () => {
    await expect(toHtml(3 as never)).rejects.toThrow('toHtml: outputs must be a Tensor or an array of Tensors, got number');
  });
});

describe('the page bundle', () => {
  it('is up to date with src/graph/explorer/page (npm run build:page regenerates it)', async () => {
    expect(readFileSync(BUNDLE_FILE, 'utf8'), 'src/graph/explorer/page-bundle.ts is out of date: run npm run build:page').toBe(await pageBundle());
  });
});
