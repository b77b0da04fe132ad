import { describe, expect, it } from 'vitest';
import { GraphvizError, render, toDot } from 'gradgraph';
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
});
