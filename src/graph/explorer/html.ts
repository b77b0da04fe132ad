import type { Tensor } from '../../tensor/tensor.js';
import { toDot, type DotOptions } from '../dot.js';
import { renderSvg } from '../render.js';
import { isTensor, kindOf, trace } from '../trace.js';
import { explorerData } from './data.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-bundle.js';

/*
 * The explorer: one self-contained HTML file, the graph's SVG, the page's script and styles and
 * the trace's data inline. Its Content-Security-Policy forbids every request, so it works
 * offline and cannot reach the network even by accident.
 */

export interface HtmlOptions {
  /** A caption over the graph, and the page's title. */
  title?: string;
  /** `TB` (default) or `LR`. */
  direction?: DotOptions['direction'];
  /** Letters for sizes: `{ N: 4, D: 3 }`. */
  dims?: Readonly<Record<string, number>>;
  /** `steps` (default): ops show their labels; `primitives`: the primitive op and its settings. */
  view?: DotOptions['view'];
  /** Tensors with at most this many elements keep every value for the panel (default 65,536). */
  valuesLimit?: number;
  /** What the upstream gradient of a non-scalar output was (`random, seed 1000`), as toDot says it. */
  upstream?: string;
}

/** Above this, a tensor's panel shows its summary only: the page carries every value it shows. */
export const HTML_VALUES_LIMIT = 65_536;

/** Script text that cannot end its element early (`</script`) nor open an HTML comment in it. */
function scriptSafe(script: string): string {
  return script.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON for inside <script>: every `<` escaped, which JSON.parse reads back as it was. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The SVG element alone, without the XML prolog, doctype and comments that only a file needs. */
function inlineSvg(svg: string): string {
  const start = svg.indexOf('<svg');
  return svg.slice(start).replace(/<!--[\s\S]*?-->/g, '').trim();
}

/**
 * An HTML page that explores the graph that computed `outputs`: pan and zoom, each tensor's
 * values and gradient, each op's local gradients, and a step control through the forward pass
 * and then the backward pass. Gradients appear when a backward pass ran first with
 * `{ retainGrads: true }`.
 */
export async function toHtml(outputs: Tensor | readonly Tensor[], options: HtmlOptions = {}): Promise<string> {
  if (!isTensor(outputs) && !Array.isArray(outputs)) throw new Error(`toHtml: outputs must be a Tensor or an array of Tensors, got ${kindOf(outputs)}`);
  const valuesLimit = options.valuesLimit ?? HTML_VALUES_LIMIT;
  const dims = options.dims ?? {};
  const graph = trace(outputs, { gradientParts: true, valuesLimit, dims });
  let hasGradients = false;
  graph.forEachNode((_, a) => {
    if (a.kind === 'tensor' && a.grad !== null) hasGradients = true;
  });
  const svg = await renderSvg(toDot(graph, {
    backward: hasGradients ? 'edges' : 'none',
    dims,
    steps: true,
    ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
    ...(options.direction ? { direction: options.direction } : {}),
    ...(options.view ? { view: options.view } : {}),
  }));
  const title = options.title ?? 'gradgraph explorer';
  const data = explorerData(graph, { title, dims });
  const sizes = Object.entries(dims).map(([symbol, size]) => `${symbol} = ${size}`).join(', ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}${sizes === '' ? '' : ` <span class="legend">(${escapeHtml(sizes)})</span>`}</h1>
<button id="step-first" title="before the first step (Home)">|◀</button>
<button id="step-back" title="previous step (←)">◀</button>
<input id="step-slider" type="range" min="0" max="0" value="0" aria-label="step">
<button id="step-next" title="next step (→)">▶</button>
<button id="step-last" title="last step (End)">▶|</button>
<span id="step-label"></span>
<button id="zoom-out" title="zoom out (−)">−</button>
<button id="zoom-fit" title="whole graph">fit</button>
<button id="zoom-in" title="zoom in (+)">+</button>
</header>
<main>
<div id="viewport">
${inlineSvg(svg)}
</div>
<aside id="panel"></aside>
</main>
<script type="application/json" id="gradgraph-data">${jsonForScript(data)}</script>
<script>
${scriptSafe(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}
