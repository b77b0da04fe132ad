import { join } from 'node:path';
import { randn, toDot, toHtml, render, svgToPng, type DotOptions, type HtmlOptions, type Tensor } from '../index.js';
import { buildBatchNorm, buildMlp, DEFAULT_SIZES, type BuiltModel, type ModelOptions } from './models.js';
import { writeFileAtomic } from './output.js';

/*
 * Pictures of the built-in models, for `gradgraph draw` and for the committed graphs/ folder
 * (`gradgraph start`); the freshness test regenerates graphs/ from the same GALLERY.
 */

export const MODELS = { batchnorm: buildBatchNorm, mlp: buildMlp } as const;
export type ModelName = keyof typeof MODELS;

/** A built-in model's name; an own key only, so `constructor` or `__proto__` is not a model. */
export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

/** How much of the backward pass a picture needs: none, `.grad` everywhere, or the recorded graph. */
export type Gradients = 'none' | 'retain' | 'record';

/**
 * Runs backward from every output with a seeded random upstream gradient ∂L/∂y. A random one,
 * not ones: Σy does not depend on x through BN (each column of x̂ sums to 0), so with ones
 * every gradient reaching x would be 0 and the picture would say nothing.
 *
 * For the recorded backward graph, ∂L/∂y requires grad itself: a gradient computed from a
 * constant records no op (∂L/∂β is just sumTo(∂L/∂y)), and would be missing from the picture.
 */
export function runBackward(outputs: readonly Tensor[], gradients: Gradients, seed: number): void {
  if (gradients === 'none') return;
  outputs.forEach((y, i) => {
    if (!y.requiresGrad) throw new Error(`output ${i}${y.name ? ` (${y.name})` : ''} does not require grad, so it has no gradients to draw`);
    const random = randn(y.shape, { seed: seed + 1000 + i });
    const record = gradients === 'record';
    const name = outputs.length === 1 ? '∂L/∂y' : `∂L/∂y${i}`;
    // A user's module may bring its own copy of gradgraph, whose backward wants its own Tensor.
    const OwnTensor = y.constructor as typeof Tensor;
    const upstream = new OwnTensor(random.data, random.shape, record ? { requiresGrad: true, name } : {});
    y.backward(upstream, record ? { createGraph: true } : { retainGrads: true });
  });
}

export interface PictureSpec {
  readonly model: ModelName;
  readonly options: ModelOptions;
  readonly gradients: Gradients;
  readonly dot: DotOptions;
}

export function modelDot(spec: PictureSpec): string {
  const model: BuiltModel = MODELS[spec.model](spec.options);
  runBackward(model.outputs, spec.gradients, spec.options.seed);
  return toDot(model.outputs, { dims: model.dims, title: model.title, ...spec.dot });
}

/** The committed pictures in graphs/, each with what it shows, and whether the README wants a PNG too. */
export const GALLERY: readonly { name: string; png: boolean; spec: PictureSpec }[] = [
  // The BN forward graph: the seven steps top to bottom, γ and β as parameters
  {
    name: 'batchnorm',
    png: true,
    spec: { model: 'batchnorm', options: DEFAULT_SIZES, gradients: 'none', dot: {} },
  },
  // The backward view: what each step passes back (dashed), for a random ∂L/∂y
  {
    name: 'batchnorm-backward',
    png: true,
    spec: { model: 'batchnorm', options: DEFAULT_SIZES, gradients: 'retain', dot: { backward: 'edges' } },
  },
  // Values and gradients on a batch of 3 × 2, every number shown
  {
    name: 'batchnorm-values',
    png: false,
    spec: { model: 'batchnorm', options: { batch: 3, features: 2, seed: 0 }, gradients: 'retain', dot: { values: 'full', grads: true } },
  },
  // The primitives view: the variance split into square and mean, each op with its settings
  {
    name: 'batchnorm-primitives',
    png: false,
    spec: { model: 'batchnorm', options: { ...DEFAULT_SIZES, primitives: true }, gradients: 'none', dot: { view: 'primitives' } },
  },
  // An MLP, Linear → BatchNorm1d → ReLU → Linear, each module drawn as a box
  {
    name: 'mlp',
    png: false,
    spec: { model: 'mlp', options: DEFAULT_SIZES, gradients: 'none', dot: { clusters: 'expanded' } },
  },
  // The same MLP with each module collapsed to one node
  {
    name: 'mlp-collapsed',
    png: false,
    spec: { model: 'mlp', options: DEFAULT_SIZES, gradients: 'none', dot: { clusters: 'collapsed' } },
  },
];

/**
 * The explorer page of a built-in model, after a backward pass that keeps every gradient. A
 * random upstream gradient, as for the pictures (see runBackward).
 */
export async function modelHtml(model: ModelName, options: ModelOptions, html: Omit<HtmlOptions, 'title' | 'dims'> = {}): Promise<string> {
  const built: BuiltModel = MODELS[model](options);
  runBackward(built.outputs, 'retain', options.seed);
  return toHtml(built.outputs, { title: built.title, dims: built.dims, view: options.primitives ? 'primitives' : 'steps', ...html });
}

/** The explorer pages in graphs/, beside the pictures. */
export const EXPLORERS: readonly { name: string; model: ModelName; options: ModelOptions }[] = [
  { name: 'batchnorm', model: 'batchnorm', options: DEFAULT_SIZES },
];

/** Writes every gallery picture into `dir` as .dot and .svg (and .png where the README shows one), and the explorer pages. */
export async function writeGallery(dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const { name, png, spec } of GALLERY) {
    const dot = modelDot(spec);
    const svg = await render(dot);
    const files: [string, string | Uint8Array][] = [[`${name}.dot`, dot], [`${name}.svg`, svg]];
    if (png) files.push([`${name}.png`, await svgToPng(svg)]);
    for (const [file, contents] of files) {
      writeFileAtomic(join(dir, file), contents);
      written.push(join(dir, file));
    }
  }
  for (const { name, model, options } of EXPLORERS) {
    writeFileAtomic(join(dir, `${name}.html`), await modelHtml(model, options));
    written.push(join(dir, `${name}.html`));
  }
  return written;
}
