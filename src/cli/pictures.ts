import { join } from 'node:path';
import { ones, randn, toDot, render, svgToPng, type DotOptions, type Tensor } from '../index.js';
import { buildBatchNorm, buildBatchNormModes, buildMlp, DEFAULT_SIZES, type BuiltModel, type ModelOptions } from './models.js';
import { writeOutputFile } from './output.js';

/*
 * Pictures of the built-in models, for `gradgraph draw` and for the committed graphs/ folder
 * (`gradgraph start`); the freshness test regenerates graphs/ from the same GALLERY.
 */

export const MODELS = { batchnorm: buildBatchNorm, mlp: buildMlp, 'batchnorm-modes': buildBatchNormModes } as const;
export type ModelName = keyof typeof MODELS;

/** A built-in model's name; an own key only, so `constructor` or `__proto__` is not a model. */
export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

/** How much of the backward pass a picture needs: none, `.grad` everywhere, or the recorded graph. */
export type Gradients = 'none' | 'retain' | 'record';

/**
 * Runs backward from every output, and says what the random seeds were. A scalar output is a loss:
 * ∂L/∂L = 1, as backward() seeds it. Any other output gets a seeded random upstream gradient
 * ∂L/∂y, not ones: Σy does not depend on x through BN (each column of x̂ sums to 0), so with ones
 * every gradient reaching x would be 0 and the picture would say nothing.
 *
 * For the recorded backward graph, the seed requires grad itself: a gradient computed from a
 * constant records no op (∂L/∂β is just sumTo(∂L/∂y)), and would be missing from the picture.
 */
export function runBackward(outputs: readonly Tensor[], gradients: Gradients, seed: number): string | undefined {
  if (gradients === 'none') return undefined;
  const seeds: number[] = [];
  outputs.forEach((y, i) => {
    if (!y.requiresGrad) throw new Error(`output ${i}${y.name ? ` (${y.name})` : ''} does not require grad, so it has no gradients to draw`);
    const isLoss = y.size === 1;
    if (!isLoss) seeds.push(seed + 1000 + i);
    const values = isLoss ? ones(y.shape) : randn(y.shape, { seed: seed + 1000 + i });
    const record = gradients === 'record';
    const name = outputs.length === 1 ? '∂L/∂y' : `∂L/∂y${i}`;
    // A user's module may bring its own copy of gradgraph, whose backward wants its own Tensor.
    const OwnTensor = y.constructor as typeof Tensor;
    const upstream = new OwnTensor(values.storage, values.shape, record ? { requiresGrad: true, name } : {});
    y.backward(upstream, record ? { createGraph: true } : { retainGrads: true });
  });
  return seeds.length === 0 ? undefined : `random, seed${seeds.length === 1 ? '' : 's'} ${seeds.join(', ')}`;
}

export interface PictureSpec {
  readonly model: ModelName;
  readonly options: ModelOptions;
  readonly gradients: Gradients;
  readonly dot: DotOptions;
}

export function modelDot(spec: PictureSpec): string {
  const model: BuiltModel = MODELS[spec.model](spec.options);
  const upstream = runBackward(model.outputs, spec.gradients, spec.options.seed);
  return toDot(model.outputs, { dims: model.dims, title: model.title, ...(upstream === undefined ? {} : { upstream }), ...spec.dot });
}

/** What the committed BN pictures add to the graph: step numbers and a legend. */
const KEYED = { steps: true, legend: true } as const;

/** The committed pictures in graphs/, each with what it shows, and whether the README wants a PNG too. */
export const GALLERY: readonly { name: string; png: boolean; spec: PictureSpec }[] = [
  // The BN forward graph: the steps top to bottom, numbered, γ and β as parameters, with a legend
  {
    name: 'batchnorm',
    png: true,
    spec: { model: 'batchnorm', options: DEFAULT_SIZES, gradients: 'none', dot: { ...KEYED } },
  },
  // The backward view: each step's local gradient on its dashed edge, numbered in backward order
  {
    name: 'batchnorm-backward',
    png: true,
    spec: { model: 'batchnorm', options: DEFAULT_SIZES, gradients: 'retain', dot: { ...KEYED, backward: 'edges' } },
  },
  // The same, left to right and fitted to a 1920×1080 slide
  {
    name: 'batchnorm-backward-slide',
    png: true,
    spec: { model: 'batchnorm', options: DEFAULT_SIZES, gradients: 'retain', dot: { ...KEYED, backward: 'edges', direction: 'LR', fit: { width: 1920, height: 1080 } } },
  },
  // Values and gradients on a batch of 3 × 2, every number shown
  {
    name: 'batchnorm-values',
    png: false,
    spec: { model: 'batchnorm', options: { batch: 3, features: 2, seed: 0 }, gradients: 'retain', dot: { ...KEYED, values: 'full', grads: true } },
  },
  // The primitives view: the variance split into square and mean, each op with its settings
  {
    name: 'batchnorm-primitives',
    png: false,
    spec: { model: 'batchnorm', options: { ...DEFAULT_SIZES, primitives: true }, gradients: 'none', dot: { ...KEYED, view: 'primitives' } },
  },
  // BatchNorm1d in training mode beside eval mode, the running statistics as the module's buffers
  {
    name: 'batchnorm-modes',
    png: true,
    spec: { model: 'batchnorm-modes', options: DEFAULT_SIZES, gradients: 'none', dot: { ...KEYED } },
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

/** Writes every gallery picture into `dir` as .dot and .svg (and .png where the README shows one). */
export async function writeGallery(dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const { name, png, spec } of GALLERY) {
    const dot = modelDot(spec);
    const svg = await render(dot);
    const files: [string, string | Uint8Array][] = [[`${name}.dot`, dot], [`${name}.svg`, svg]];
    // A picture fitted to a slide is drawn at the slide's size; the others at twice the SVG's.
    if (png) files.push([`${name}.png`, svgToPng(svg, spec.dot.fit ? 1 : 2)]);
    for (const [file, contents] of files) {
      writeOutputFile(join(dir, file), contents);
      written.push(join(dir, file));
    }
  }
  return written;
}
