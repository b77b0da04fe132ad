import type { Viz } from '@viz-js/viz';
import { FONT } from './dot.js';
import { describeValue } from '../validate.js';
import { isNode, readPackageFile } from './node-files.js';

/*
 * DOT → SVG with @viz-js/viz (Graphviz compiled to WebAssembly, no system Graphviz needed), and
 * SVG → PNG with @resvg/resvg-wasm (a Rust rasteriser compiled to WebAssembly).
 *
 * Why these: viz-js ships a current Graphviz and reports Graphviz's own errors and warnings as
 * values; graphviz-cli's 2022 build silently drops HTML labels and needs the native `canvas`
 * package for PNG, which does not build everywhere. The DOT we write avoids HTML labels anyway,
 * so graphviz-cli and a stock `dot` render it too (tests/graph/compat.test.ts checks both).
 * resvg's WebAssembly build, not its native addon @resvg/resvg-js: the addon keeps every
 * rendered image (about 10 MB for the BN graph) until the process ends (resvg-js issue #216),
 * while here each render's memory is freed explicitly and reused.
 *
 * Fonts: Graphviz in WebAssembly cannot read font files; it lays text out with metrics tables
 * built in for a few fonts, DejaVu Sans among them. resvg draws with DejaVu Sans loaded from the
 * dejavu-fonts-ttf package, never a system font, so the widths the layout assumed are the widths
 * drawn, on any machine.
 */

/** A Graphviz failure, with Graphviz's own messages (`syntax error in line 3 near '->'`). */
export class GraphvizError extends Error {
  constructor(readonly messages: readonly string[]) {
    super(`Graphviz: ${messages.join('; ')}`);
    this.name = 'GraphvizError';
  }
}

export type RenderFormat = 'svg' | 'png';

export interface RenderOptions {
  format?: RenderFormat;
  /** PNG only: pixels per SVG pixel (default 2, sharp on high-density screens). */
  scale?: number;
}

/**
 * The largest PNG we draw: 64 megapixels is 256 MB of RGBA while drawing. A chain of 1,000 ops
 * asks for about 18 gigapixels, which would take the machine down before failing.
 */
export const MAX_PNG_PIXELS = 64_000_000;

// One WebAssembly instance for the whole process: compiling Graphviz takes far longer than a render.
// Both renderers load on first use, so `import 'gradgraph'` stays light for code that never draws.
let vizInstance: Promise<Viz> | undefined;

function viz(): Promise<Viz> {
  vizInstance ??= import('@viz-js/viz').then((module) => module.instance());
  return vizInstance;
}

/** Why Graphviz stopped, for a trap or an abort inside its WebAssembly. */
function crashReason(error: unknown, dot: string): string | null {
  const statements = (dot.match(/;/g) ?? []).length;
  const way = 'draw fewer nodes: collapse modules (clusters: \'collapsed\', --clusters collapsed) or trace a smaller part of the graph';
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return `the layout ran out of stack on a graph of about ${statements} statements (Graphviz recurses along long paths); ${way}`;
  }
  // Emscripten's ExitStatus (Graphviz called exit(1), typically out of memory) is no Error.
  const { name, message } = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown };
  if (name === 'RuntimeError' || name === 'ExitStatus') {
    const what = name === 'ExitStatus' ? 'Graphviz gave up (most often out of memory)' : `Graphviz crashed (${String(message)})`;
    return `${what} laying out a graph of about ${statements} statements; ${way}`;
  }
  return null;
}

/** SVG text from DOT; throws a GraphvizError carrying Graphviz's messages when it cannot. */
export async function renderSvg(dot: string): Promise<string> {
  if (typeof dot !== 'string') throw new Error(`render: dot must be a string, got ${describeValue(dot)}`);
  if (dot.trim() === '') throw new Error('render: dot is empty; pass the text toDot() returns');
  let result;
  try {
    result = (await viz()).render(dot, { format: 'svg' });
  } catch (error) {
    const reason = crashReason(error, dot);
    if (reason === null) throw error;
    // A crash inside the WebAssembly leaves the instance unusable: start a fresh one next time.
    vizInstance = undefined;
    throw new GraphvizError([reason]);
  }
  if (result.status !== 'success') {
    const errors = result.errors.filter((e) => e.level !== 'warning').map((e) => e.message.trim());
    throw new GraphvizError(errors.length > 0 ? errors : ['rendering failed without a message']);
  }
  return result.output;
}

type ResvgModule = typeof import('@resvg/resvg-wasm');
let rasteriser: Promise<{ Resvg: ResvgModule['Resvg']; font: Uint8Array }> | undefined;

function loadRasteriser(): Promise<{ Resvg: ResvgModule['Resvg']; font: Uint8Array }> {
  rasteriser ??= (async () => {
    const [module, wasm, font] = await Promise.all([
      import('@resvg/resvg-wasm'),
      readPackageFile('svgToPng', '@resvg/resvg-wasm/index_bg.wasm'),
      readPackageFile('svgToPng', 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
    ]);
    await module.initWasm(wasm);
    return { Resvg: module.Resvg, font };
  })();
  // A failed load (a file missing) is reported each time, not cached as a rejected promise.
  rasteriser.catch(() => {
    rasteriser = undefined;
  });
  return rasteriser;
}

/** `12,345 × 678 pixels (8.4 megapixels)`. */
function describePixels(width: number, height: number): string {
  const pixels = width * height;
  const amount = pixels >= 1e9 ? `${(pixels / 1e9).toFixed(1)} gigapixels` : `${(pixels / 1e6).toFixed(1)} megapixels`;
  return `${Math.round(width).toLocaleString('en-US')} × ${Math.round(height).toLocaleString('en-US')} pixels (${amount})`;
}

/**
 * PNG bytes from SVG, drawn with the bundled DejaVu Sans on a white background. Refuses, before
 * drawing anything, a picture above MAX_PNG_PIXELS. In a browser, where the rasteriser's
 * WebAssembly and the font are not files to read, it throws and names the alternative.
 */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  if (typeof svg !== 'string') throw new Error(`svgToPng: svg must be a string, got ${describeValue(svg)}`);
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`render: scale must be a finite number > 0, got ${describeValue(scale)}`);
  if (!isNode()) {
    throw new Error('svgToPng: PNG output needs Node (it reads resvg\'s WebAssembly and the DejaVu Sans font from node_modules); in a browser, render SVG with render(dot) and show it, or draw that SVG on a <canvas> and call canvas.toBlob()');
  }
  const { Resvg, font } = await loadRasteriser();
  const image = new Resvg(svg, {
    font: { fontBuffers: [font], defaultFontFamily: FONT, sansSerifFamily: FONT },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  try {
    const width = image.width * scale;
    const height = image.height * scale;
    if (width * height > MAX_PNG_PIXELS) {
      const fitting = Math.sqrt(MAX_PNG_PIXELS / (image.width * image.height));
      throw new Error(`svgToPng: the picture would be ${describePixels(width, height)}, more than the ${MAX_PNG_PIXELS / 1e6} megapixels a PNG may have; `
        + `draw it as SVG instead, collapse modules (clusters: 'collapsed' or --clusters collapsed), or use a smaller scale (${fitting >= 0.01 ? `scale ${Math.floor(fitting * 100) / 100} fits` : 'even scale 0.01 is too large'})`);
    }
    const rendered = image.render();
    try {
      return rendered.asPng();
    } finally {
      rendered.free();
    }
  } finally {
    image.free();
  }
}

/** Renders DOT as SVG text or PNG bytes. */
export async function render(dot: string, options: RenderOptions & { format: 'png' }): Promise<Uint8Array>;
export async function render(dot: string, options?: RenderOptions & { format?: 'svg' }): Promise<string>;
export async function render(dot: string, options: RenderOptions = {}): Promise<string | Uint8Array> {
  const format = options.format ?? 'svg';
  if (format !== 'svg' && format !== 'png') throw new Error(`render: format must be 'svg' or 'png', got ${JSON.stringify(format)}`);
  const svg = await renderSvg(dot);
  return format === 'svg' ? svg : svgToPng(svg, options.scale);
}
