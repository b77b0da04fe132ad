import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { checkRecordedOps, culprits, describeCulprit, gradcheck, GraphvizError, render, toDot, toHtml, type DotOptions, type OpGradientCheck, type Tensor } from '../index.js';
import { helpText, integerOption, parse, UsageError, type OptionSpecs, type Parsed } from './args.js';
import { isModelName, MODELS, modelDot, modelHtml, runBackward, writeGallery, type Gradients } from './pictures.js';
import { DEFAULT_SIZES } from './models.js';
import { inputStats, isFolderPath, readTextFile, writeOutputFile } from './output.js';
import { userOutputs } from './user-module.js';
import { checkUserModule, FULL_CHECK_LIMIT, type CheckMode } from './check-module.js';

/** Sizes and seed, shared by `draw` and `check`. */
const SIZE_OPTIONS: OptionSpecs = {
  batch: { type: 'string', placeholder: 'N', help: 'batch size N (default 4)' },
  features: { type: 'string', placeholder: 'D', help: 'features D (default 3)' },
  seed: { type: 'string', placeholder: 'S', help: 'seed of the random inputs (default 0)' },
  primitives: { type: 'boolean', help: 'BN with the variance split into primitives' },
};
const HELP: OptionSpecs = { help: { type: 'boolean', short: 'h', help: 'show this help' } };

const DRAW_OPTIONS: OptionSpecs = {
  format: { type: 'string', values: ['svg', 'png', 'dot', 'html'], help: 'output format (default: from --out, else svg); html: the interactive explorer' },
  out: { type: 'string', placeholder: 'FILE', help: 'write here (whole or not at all) instead of to stdout' },
  values: { type: 'boolean', help: 'show each tensor\'s values: mean, std, min, max' },
  full: { type: 'boolean', help: 'with --values or --grads: every value of small tensors' },
  grads: { type: 'boolean', help: 'show each tensor\'s gradient: from ∂L/∂L = 1 for a scalar output, else a random ∂L/∂y' },
  backward: { type: 'boolean', help: 'draw what each step passes back, as dashed edges' },
  'backward-graph': { type: 'boolean', help: 'draw the backward graph recorded with createGraph' },
  direction: { type: 'string', values: ['TB', 'LR'], help: 'top to bottom (default) or left to right' },
  steps: { type: 'boolean', help: 'number the steps: forward order on the ops, backward order on the gradient edges' },
  legend: { type: 'boolean', help: 'add a legend: what each colour, shape and edge stands for' },
  fit: { type: 'string', placeholder: 'WxH', help: 'scale the drawing to fit W×H pixels, e.g. 1920x1080 for a slide (a PNG is drawn at that size)' },
  clusters: { type: 'string', values: ['expanded', 'collapsed', 'none'], help: 'module scopes as boxes, as one node each, or not shown' },
  repeats: { type: 'boolean', help: 'draw a run of identical blocks (a Sequential of the same block) once, in a box marked ×N' },
  ...SIZE_OPTIONS,
  ...HELP,
};

const CHECK_OPTIONS: OptionSpecs = {
  ...SIZE_OPTIONS,
  fast: { type: 'boolean', help: `compare random projections of the Jacobian, not every entry (automatic above ${FULL_CHECK_LIMIT} input elements)` },
  full: { type: 'boolean', help: 'compare every entry, however many there are' },
  out: { type: 'string', placeholder: 'FILE', help: 'also draw the graph, each op marked by its own gradient check (.svg, .png or .dot)' },
  ...HELP,
};
const START_OPTIONS: OptionSpecs = { 'out-dir': { type: 'string', placeholder: 'DIR', help: 'where to write the pictures (default graphs)' }, ...HELP };

/** The built-in graphs `draw` knows, as usage writes them: `batchnorm|mlp|...`. */
export const DRAWABLE = Object.keys(MODELS).join('|');

export const USAGE = {
  draw: helpText(
    `gradgraph draw ${DRAWABLE}|FILE.ts|FILE.dot [options]`,
    'Draws a computational graph: the BN layer, an MLP with BatchNorm1d, one BatchNorm1d in\n'
      + 'training and eval mode, an MLP of three identical blocks, BN beside LayerNorm, GroupNorm\n'
      + 'and RMSNorm, the graph built by your module (its default export, a function returning the\n'
      + 'output tensor or tensors; it is given { batch, features, seed }), or renders a DOT file.',
    DRAW_OPTIONS,
  ),
  check: helpText(
    'gradgraph check batchnorm|FILE.ts [options]',
    'Checks gradients against central differences and prints the table: of BN, or of the function\n'
      + 'your module exports (as for draw) with respect to the tensors it reads that require grad,\n'
      + 'which are perturbed in place and the function called again. Each recorded op is also\n'
      + 'checked on its own, so a failure names the op that is wrong. Exits 1 when a check fails.',
    CHECK_OPTIONS,
  ),
  start: helpText('gradgraph start [options]', 'Draws the gallery into graphs/ (DOT, SVG and PNG, and the BN explorer as HTML) and prints the\n'
      + 'gradient check of BN.', START_OPTIONS),
};

interface Io {
  stdout: (text: string | Uint8Array) => void;
  /** Whether stdout is a terminal, where PNG bytes would only garble the screen. */
  stdoutIsTerminal: boolean;
}

function sizes(command: string, parsed: Parsed) {
  return {
    batch: integerOption(command, parsed, 'batch', 2, 1000, DEFAULT_SIZES.batch),
    features: integerOption(command, parsed, 'features', 1, 1000, DEFAULT_SIZES.features),
    seed: integerOption(command, parsed, 'seed', 0, 2 ** 32 - 1, DEFAULT_SIZES.seed),
    primitives: parsed.values.primitives === true,
  };
}

function onePositional(command: string, parsed: Parsed, what: string): string {
  if (parsed.positionals.length === 0) throw new UsageError(`${command}: which ${what}? (see gradgraph ${command} --help)`);
  if (parsed.positionals.length > 1) throw new UsageError(`${command}: expected one ${what}, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  return parsed.positionals[0];
}

const GRAPH_NAMES = Object.keys(MODELS).join(', ');

type Format = 'svg' | 'png' | 'dot' | 'html';

/** Names of stdout that `--out` takes as no --out at all (bash's redirections know them too). */
const STDOUT_PATHS: ReadonlySet<string> = new Set(['-', '/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']);

const FORMAT_OF_EXTENSION: ReadonlyMap<string, Format> = new Map([['.svg', 'svg'], ['.png', 'png'], ['.dot', 'dot'], ['.gv', 'dot'], ['.html', 'html'], ['.htm', 'html']]);

/**
 * What `draw` writes and where: --format, else the --out file's extension, else SVG. Checked
 * before any drawing, so that a PNG never lands in a file named .svg nor a file in a folder's place.
 */
function outputFormat(command: string, parsed: Parsed, graph: string): { format: Format; out: string | undefined } {
  const asked = parsed.values.format as Format | undefined;
  const given = parsed.values.out as string | undefined;
  const namesStdout = given !== undefined && STDOUT_PATHS.has(given);
  // check prints its table there: a picture after it would be neither a table nor a picture.
  if (namesStdout && command !== 'draw') throw new UsageError(`${command}: --out ${given} would mix the picture into the report on stdout; give a file name`);
  // Written as stdout itself, not opened again: `>> log` keeps appending, a pipe stays a pipe.
  const out = namesStdout ? undefined : given;
  if (out === undefined) return { format: asked ?? 'svg', out };
  if (out === '') throw new UsageError(`${command}: --out needs a file name`);
  if (isFolderPath(out)) {
    const example = join(out, `${basename(graph, extname(graph))}.${asked ?? 'svg'}`);
    throw new UsageError(`${command}: --out ${out} is a folder; give a file name such as ${example}`);
  }
  const extension = extname(out).toLowerCase();
  const fromExtension = FORMAT_OF_EXTENSION.get(extension);
  if (asked === undefined) {
    if (fromExtension === undefined) throw new UsageError(`${command}: cannot tell the format of --out ${out}; end it in .svg, .png${command === 'draw' ? ', .dot (.gv) or .html, or give --format' : ' or .dot (.gv)'}`);
    if (command !== 'draw' && fromExtension === 'html') throw new UsageError(`${command}: --out ${out}: the html explorer is gradgraph draw's; end it in .svg, .png or .dot (.gv)`);
    return { format: fromExtension, out };
  }
  // An extension we do not know (`--format dot --out graph.txt`) is the user's choice to make.
  if (fromExtension !== undefined && fromExtension !== asked) throw new UsageError(`${command}: --format ${asked} conflicts with --out ${out} (${extension}); drop one`);
  return { format: asked, out };
}

/** What only shapes a graph gradgraph builds: a .dot file is drawn as it is. */
const BUILD_OPTIONS = ['values', 'grads', 'full', 'backward', 'backward-graph', 'direction', 'clusters', 'repeats', 'steps', 'legend', 'fit', ...Object.keys(SIZE_OPTIONS)];

/** `--fit 1920x1080` as pixels. */
function fitOption(parsed: Parsed): { width: number; height: number } | undefined {
  const value = parsed.values.fit as string | undefined;
  if (value === undefined) return undefined;
  const match = /^(\d{2,5})[x×](\d{2,5})$/.exec(value);
  const [width, height] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (width < 16 || height < 16) throw new UsageError(`draw: --fit must be WIDTHxHEIGHT in pixels, each from 16 to 99999, e.g. 1920x1080; got '${value}'`);
  return { width, height };
}

/** Options that would do nothing together are a mistake to point out, not to ignore. */
function checkCombinations(parsed: Parsed, isDotFile: boolean): void {
  const v = parsed.values;
  if (isDotFile) {
    const given = BUILD_OPTIONS.filter((name) => v[name] !== undefined).map((name) => `--${name}`);
    if (given.length === 1) throw new UsageError(`draw: ${given[0]} does nothing for a .dot file, which is drawn as it is; drop it`);
    if (given.length > 1) throw new UsageError(`draw: ${given.join(', ')} do nothing for a .dot file, which is drawn as it is; drop them`);
  }
  if (v.full && !v.values && !v.grads) throw new UsageError('draw: --full shows every value for --values or --grads; add one of them or drop --full');
  if (v.backward && v['backward-graph']) throw new UsageError('draw: --backward and --backward-graph draw the backward pass two different ways; pick one');
}

/** The explorer shows values, gradients and the backward pass itself: the picture options have no say in it. */
function checkHtml(parsed: Parsed, isDotFile: boolean): void {
  if (isDotFile) throw new UsageError('draw: the html explorer needs a graph gradgraph builds (batchnorm, mlp or your module), not a .dot file');
  const given = ['values', 'grads', 'full', 'backward', 'backward-graph', 'clusters', 'repeats', 'steps', 'legend', 'fit'].filter((name) => parsed.values[name] !== undefined).map((name) => `--${name}`);
  if (given.length > 0) throw new UsageError(`draw: ${given.join(', ')} ${given.length === 1 ? 'does' : 'do'} nothing for the html explorer, which shows every value and gradient and folds modules on click; drop ${given.length === 1 ? 'it' : 'them'}`);
}

/** The explorer page of a built-in model or a user's module, after a backward pass that keeps every gradient. */
async function explorerPage(graph: string, kind: 'model' | FileKind, options: ReturnType<typeof sizes>, parsed: Parsed): Promise<string> {
  const direction = parsed.values.direction ? { direction: parsed.values.direction as 'TB' | 'LR' } : {};
  if (kind === 'model' && isModelName(graph)) return modelHtml(graph, options, direction);
  const outputs = await userOutputs(graph, options);
  // Gradients when there are any to show; a graph nothing requires grad of is explored forward only.
  const upstream = outputs.every((y) => y.requiresGrad) ? runBackward(outputs, 'retain', options.seed) : undefined;
  return toHtml(outputs, { title: basename(graph), view: options.primitives ? 'primitives' : 'steps', ...(upstream === undefined ? {} : { upstream }), ...direction });
}

type FileKind = 'dot' | 'module';

const MODULE_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.js', '.mjs']);

/**
 * The kind of file GRAPH names by its extension, in any case (`OK.DOT` is a DOT file, as
 * `--out X.SVG` is an SVG), among those `command` takes; undefined for any other name. A path
 * that is a folder, or a module that is not a regular file (a link to /dev/zero), is bad use.
 */
function fileKind(command: string, graph: string, accepted: readonly FileKind[]): FileKind | undefined {
  const extension = extname(graph);
  const kind: FileKind | undefined = FORMAT_OF_EXTENSION.get(extension.toLowerCase()) === 'dot' ? 'dot' : MODULE_EXTENSIONS.has(extension.toLowerCase()) ? 'module' : undefined;
  if (kind === undefined || !accepted.includes(kind)) return undefined;
  const stats = inputStats(graph);
  if (stats?.isDirectory()) throw new UsageError(`${command}: '${graph}' is a folder; give a ${kind === 'dot' ? '.dot file' : 'module file such as ./my-graph.ts'}`);
  if (kind === 'module') {
    if (stats !== undefined && !stats.isFile()) throw new UsageError(`${command}: '${graph}' is not a regular file; give a module file such as ./my-graph.ts`);
    // Node loads modules by their extension in lower case only.
    if (extension !== extension.toLowerCase()) throw new UsageError(`${command}: Node cannot load a module ending in '${extension}'; rename '${graph}' to end in '${extension.toLowerCase()}'`);
  }
  return kind;
}

/** What `draw GRAPH` names: one of our models, a DOT file or a user's module. */
function graphKind(graph: string): 'model' | FileKind {
  if (isModelName(graph)) return 'model';
  const kind = fileKind('draw', graph, ['dot', 'module']);
  if (kind === undefined) throw new UsageError(`draw: unknown graph '${graph}' (expected ${GRAPH_NAMES}, a module such as ./my-graph.ts, or a .dot file)`);
  return kind;
}

async function draw(args: readonly string[], io: Io): Promise<number> {
  const parsed = parse('draw', args, DRAW_OPTIONS);
  if (parsed.values.help) return (io.stdout(USAGE.draw), 0);
  const graph = onePositional('draw', parsed, 'graph');
  const kind = graphKind(graph);
  checkCombinations(parsed, kind === 'dot');
  const options = sizes('draw', parsed);
  const { format, out } = outputFormat('draw', parsed, graph);
  const fit = fitOption(parsed);
  if (out === undefined && format === 'png' && io.stdoutIsTerminal) throw new UsageError('draw: refusing to write PNG bytes to a terminal; use --out FILE.png');
  if (format === 'html') {
    checkHtml(parsed, kind === 'dot');
    const page = await explorerPage(graph, kind, options, parsed);
    if (out === undefined) io.stdout(page);
    else writeOutputFile(out, page);
    return 0;
  }

  let dot: string;
  if (kind === 'dot') {
    if (!existsSync(graph)) throw new UsageError(`draw: cannot find '${graph}'`);
    dot = readTextFile(graph);
  } else {
    const v = parsed.values;
    const full = v.full === true;
    const gradients: Gradients = v['backward-graph'] ? 'record' : v.grads || v.backward ? 'retain' : 'none';
    const dotOptions: DotOptions = {
      values: v.values ? (full ? 'full' : 'summary') : 'none',
      // --full is for the gradients too, whether or not --values asks for the values.
      grads: v.grads === true && (full ? 'full' : true),
      backward: v['backward-graph'] ? 'recorded' : v.backward ? 'edges' : 'none',
      view: options.primitives ? 'primitives' : 'steps',
      ...(v.direction ? { direction: v.direction as 'TB' | 'LR' } : {}),
      ...(v.clusters ? { clusters: v.clusters as 'expanded' | 'collapsed' | 'none' } : {}),
      repeats: v.repeats === true,
      steps: v.steps === true,
      legend: v.legend === true,
      ...(fit ? { fit } : {}),
    };
    if (isModelName(graph)) {
      dot = modelDot({ model: graph, options, gradients, dot: dotOptions });
    } else {
      const outputs = await userOutputs(graph, options);
      let upstream: string | undefined;
      try {
        upstream = runBackward(outputs, gradients, options.seed);
      } catch (error) {
        throw new Error(`draw: the outputs of '${graph}' have no gradients to draw: ${(error as Error).message}`);
      }
      dot = toDot(outputs, { ...dotOptions, ...(upstream === undefined ? {} : { upstream }) });
    }
  }
  // Fitted to a size, the PNG is drawn at that size; otherwise at twice the SVG's, for sharp text.
  let output: string | Uint8Array;
  try {
    output = format === 'dot' ? dot : format === 'png' ? await render(dot, { format: 'png', ...(fit ? { scale: 1 } : {}) }) : await render(dot);
  } catch (error) {
    // Graphviz's line numbers are the DOT file's own: say which file they count in.
    if (kind === 'dot' && error instanceof GraphvizError) throw new Error(`draw: '${graph}': ${error.message}`);
    throw error;
  }
  if (out === undefined) io.stdout(output);
  else writeOutputFile(out, output);
  return 0;
}

/**
 * The gradient check of BN: the table, and whether it passed. The full check builds the whole
 * Jacobian, one set of differences per element of x; fast mode (PyTorch's fast_mode) compares a
 * projection on random directions, and halves it down to the elements only when it fails.
 */
function checkBatchNorm(options: ReturnType<typeof sizes>, io: Io, mode: CheckMode = 'auto'): { passed: boolean; outputs: readonly Tensor[] } {
  const model = MODELS.batchnorm(options);
  const elements = options.batch * options.features;
  const fastMode = mode === 'fast' || (mode === 'auto' && elements > FULL_CHECK_LIMIT);
  const reason = mode === 'fast' ? ', fast mode (--fast)' : fastMode ? `, fast mode (N·D = ${elements} > ${FULL_CHECK_LIMIT}; the full Jacobian would take too long)` : '';
  const report = gradcheck(model.fn, model.inputs, { fastMode });
  io.stdout(`Gradient check of Batch Normalization${options.primitives ? ' (primitives)' : ''}, N=${options.batch}, D=${options.features}, seed ${options.seed}${reason}:\n${report.message}\n`);
  return { passed: report.passed, outputs: model.outputs };
}

const CHECK_TITLE = 'Each op\'s own gradient against central differences\ngreen ✓ right · red ✗ wrong (the culprit) · yellow: at a kink';

/** Writes the picture of a check: the graph with each op marked by its own gradient's check. */
async function drawCheck(outputs: readonly Tensor[], checks: readonly OpGradientCheck[], format: Format, out: string): Promise<void> {
  const dot = toDot(outputs, { checks, title: CHECK_TITLE });
  writeOutputFile(out, format === 'dot' ? dot : format === 'png' ? await render(dot, { format: 'png' }) : await render(dot));
}

async function check(args: readonly string[], io: Io): Promise<number> {
  const parsed = parse('check', args, CHECK_OPTIONS);
  if (parsed.values.help) return (io.stdout(USAGE.check), 0);
  const graph = onePositional('check', parsed, 'graph');
  const isModule = graph !== 'batchnorm' && fileKind('check', graph, ['module']) === 'module';
  if (graph !== 'batchnorm' && !isModule) throw new UsageError(`check: unknown graph '${graph}' (expected batchnorm or a module such as ./my-graph.ts)`);
  if (parsed.values.fast && parsed.values.full) throw new UsageError('check: --fast and --full ask for two different checks; pick one');
  const mode: CheckMode = parsed.values.fast ? 'fast' : parsed.values.full ? 'full' : 'auto';
  const { format, out } = outputFormat('check', parsed, graph);
  const options = sizes('check', parsed);
  if (isModule) {
    const result = await checkUserModule(graph, options, mode);
    io.stdout(result.report);
    if (out !== undefined) await drawCheck(result.outputs, result.checks, format, out);
    // One line on stderr (exit 1) that leads with the culprit.
    if (result.failure !== null) throw new Error(result.failure);
    return 0;
  }
  const { passed, outputs } = checkBatchNorm(options, io, mode);
  const checks = passed && out === undefined ? [] : checkRecordedOps(outputs, { seed: options.seed });
  if (out !== undefined) await drawCheck(outputs, checks, format, out);
  const [culprit] = culprits(checks);
  if (!passed) throw new Error(`check: ${culprit === undefined ? 'the gradient of Batch Normalization is wrong, yet each op\'s own gradient is right' : describeCulprit(culprit)}`);
  return 0;
}

async function start(args: readonly string[], io: Io): Promise<number> {
  const parsed = parse('start', args, START_OPTIONS);
  if (parsed.values.help) return (io.stdout(USAGE.start), 0);
  if (parsed.positionals.length > 0) throw new UsageError(`start: unexpected argument '${parsed.positionals[0]}'`);
  const dir = (parsed.values['out-dir'] as string | undefined) ?? 'graphs';
  if (dir === '') throw new UsageError('start: --out-dir needs a folder name');
  // In a user's project there is no graphs/ yet: make it, as `mkdir -p` would.
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`start: cannot make the folder '${dir}': ${(error as NodeJS.ErrnoException).code === 'EEXIST' ? 'a file has that name' : (error as Error).message}`);
  }
  const written = await writeGallery(dir);
  io.stdout(`Wrote ${written.length} files:\n${written.map((file) => `  ${file}`).join('\n')}\n\n`);
  return checkBatchNorm({ ...DEFAULT_SIZES, primitives: false }, io).passed ? 0 : 1;
}

// A Map, not an object: a command named `constructor` or `__proto__` must be unknown, not Object's.
export const COMMANDS: ReadonlyMap<string, (args: readonly string[], io: Io) => Promise<number>> = new Map([['draw', draw], ['check', check], ['start', start]]);
