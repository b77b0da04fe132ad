import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GraphvizError, MAX_PNG_PIXELS, render, svgToPng, tensor, toDot } from 'gradgraph';
import { standInBatchNorm } from './fixtures.js';

describe('render', () => {
  it('draws SVG whose text is set in the font the layout measured', async () => {
    const svg = await render(toDot(standInBatchNorm().y));
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain('font-family="DejaVu Sans"');
    expect(svg).toContain('>x̂</text>');
  });

  it('draws PNG with the bundled font, at twice the SVG size by default', async () => {
    const dot = 'digraph { a [label="γ β σ² μ ε"] }';
    const png = await render(dot, { format: 'png' });
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(16);
    const small = await render(dot, { format: 'png', scale: 1 });
    // Sizes in points round to whole pixels at each scale.
    expect(Math.abs(width(png) - 2 * width(small))).toBeLessThanOrEqual(1);
  });

  it("reports a syntax error with Graphviz's own message, line and token", async () => {
    const error = await render('digraph {\n  a -> ;\n}').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphvizError);
    expect((error as GraphvizError).message).toBe("Graphviz: syntax error in line 2 near ';'");
    // The instance is still usable afterwards.
    await expect(render('digraph { a }')).resolves.toContain('<svg');
  });

  it('says so when there is no DOT at all', async () => {
    await expect(render('')).rejects.toThrow('render: dot is empty; pass the text toDot() returns');
    await expect(render(' \n')).rejects.toThrow('render: dot is empty');
  });

  it('names a bad format or scale', async () => {
    await expect(render('digraph { a }', { format: 'gif' as never })).rejects.toThrow(`render: format must be 'svg' or 'png', got "gif"`);
    await expect(render('digraph { a }', { format: 'png', scale: 0 })).rejects.toThrow('render: scale must be a finite number > 0, got 0');
  });

  it('refuses up front a PNG too large to draw, naming its size and the ways out', async () => {
    // Each `+ 1` brings its own constant, and Graphviz puts all 1,000 of them side by side.
    let t = tensor([1, 2], { requiresGrad: true, name: 'x' });
    for (let i = 0; i < 1000; i++) t = t.add(1);
    const svg = await render(toDot(t));
    const error = (await svgToPng(svg).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/^svgToPng: the picture would be [\d,]+ × [\d,]+ pixels \(\d+\.\d gigapixels\), more than the 64 megapixels a PNG may have; draw it as SVG instead, collapse modules \(clusters: 'collapsed' or --clusters collapsed\), or use a smaller scale \(scale 0\.\d+ fits\)$/);
    // The scale it names fits, and is the largest in hundredths that does (drawing it would take long).
    const [width, height] = /would be ([\d,]+) × ([\d,]+)/.exec(error.message)!.slice(1).map((n) => Number(n.replaceAll(',', '')));
    const fitting = Number(/scale (0\.\d+) fits/.exec(error.message)![1]);
    const pixelsAt = (scale: number) => width * height * (scale / 2) ** 2;
    expect(pixelsAt(fitting)).toBeLessThanOrEqual(MAX_PNG_PIXELS);
    expect(pixelsAt(fitting + 0.01)).toBeGreaterThan(MAX_PNG_PIXELS * 0.99);
  });

  it('turns Graphviz running out of stack on a 4,000-op chain into a GraphvizError that says why', async () => {
    let t = tensor([1, 2], { requiresGrad: true, name: 'x' });
    for (let i = 0; i < 4000; i++) t = t.add(1);
    const outcome = await render(toDot(t)).catch((e: unknown) => e);
    // Either it draws, or it says why it cannot; never a bare RangeError from inside the WebAssembly.
    if (typeof outcome !== 'string') {
      expect(outcome).toBeInstanceOf(GraphvizError);
      expect((outcome as GraphvizError).message).toMatch(/^Graphviz: the layout ran out of stack on a graph of about \d+ statements .*collapse modules/);
    }
    await expect(render('digraph { a -> b }')).resolves.toContain('<svg');
  });

  it('keeps no memory per PNG: 50 renders of the BN graph grow the process by less than 50 MB', () => {
    // Its own process, so that nothing else the tests allocate moves the resident set. With
    // @resvg/resvg-js, each render kept about 10 MB (resvg-js issue #216): 500 MB here.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const script = fileURLToPath(new URL('./png-loop.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', tsx, script, '50'], { encoding: 'utf8', timeout: 120_000 });
    expect(result.stderr).toBe('');
    const { count, bytes, grownMb } = JSON.parse(result.stdout) as { count: number; bytes: number; grownMb: number };
    expect(count).toBe(50);
    expect(bytes).toBeGreaterThan(50 * 10_000);
    expect(grownMb).toBeLessThan(50);
  }, 120_000);
});
