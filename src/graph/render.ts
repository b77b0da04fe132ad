import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Viz } from '@viz-js/viz';
import { FONT } from './dot.js';
import { describeValue } from '../validate.js';

/*
 * DOT → SVG with @viz-js/viz (Graphviz compiled to WebAssembly, no system Graphviz needed), and
 * SVG → PNG with @resvg/resvg-js (a Rust rasteriser, no system libraries).
 *
 * Why these: viz-js ships a current Graphviz and reports Graphviz's own errors and warnings as
 * values; graphviz-cli's 2022 build silently drops HTML labels and needs the native `canvas`
 * package for PNG, which does not build everywhere. The DOT we write avoids HTML labels anyway,
 * so graphviz-cli and a stock `dot` render it too (tests/graph/compat.test.ts checks both).
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
  /** PNG only: pixels per SVG point (default 2, sharp on high-density screens). */
  scale?: number;
}

// One WebAssembly instance for the whole process: compiling Graphviz takes far longer than a render.
// Both renderers load on first use, so `import 'gradgraph'` stays light for code that never draws.
let vizInstance: Promise<Viz> | undefined;

function viz(): Promise<Viz> {
  vizInstance ??= import('@viz-js/viz').then((module) => module.instance());
  return vizInstance;
}

const require = createRequire(import.meta.url);
const fontFile = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf');

/** SVG text from DOT; throws a GraphvizError carrying Graphviz's messages when it cannot. */
export async function renderSvg(dot: string): Promise<string> {
  if (typeof dot !== 'string') throw new Error(`render: dot must be a string, got ${typeof dot}`);
  if (dot.trim() === '') throw new Error('render: dot is empty; pass the text toDot() returns');
  let result;
  try {
    result = (await viz()).render(dot, { format: 'svg' });
  } catch (error) {
    // A trap inside the WebAssembly leaves the instance unusable: start a fresh one next time.
    if (!(error instanceof Error && error.name === 'RuntimeError')) throw error;
    vizInstance = undefined;
    throw new GraphvizError([`Graphviz crashed (${error.message})`]);
  }
  if (result.status !== 'success') {
    const errors = result.errors.filter((e) => e.level !== 'warning').map((e) => e.message.trim());
    throw new GraphvizError(errors.length > 0 ? errors : ['rendering failed without a message']);
  }
  return result.output;
}

/** PNG bytes from SVG, drawn with the bundled DejaVu Sans on a white background. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`render: scale must be a finite number > 0, got ${describeValue(scale)}`);
  // A native addon, loaded synchronously on the first PNG.
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const image = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [fontFile], defaultFontFamily: FONT, sansSerifFamily: FONT },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  return new Uint8Array(image.render().asPng());
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
