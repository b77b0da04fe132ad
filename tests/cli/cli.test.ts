import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MODELS } from '../../src/cli/pictures.js';
import { characterDevice } from '../helpers.js';

/* The real CLI, spawned as a user runs it: `node --import tsx src/cli/main.ts ...`. */

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'src', 'cli', 'main.ts');
// tsx by its full URL, so that the CLI also runs from a user's project, which has no tsx.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const work = mkdtempSync(join(tmpdir(), 'gradgraph-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function gradgraphIn(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', tsx, main, ...args], { cwd, encoding: 'buffer', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, text: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

function gradgraph(...args: string[]) {
  return gradgraphIn(root, ...args);
}

/** Bad use: exit code 2 and exactly one line on stderr that says what was wrong. */
function expectUsageError(args: string[], message: RegExp) {
  const { status, stderr } = gradgraph(...args);
  expect(stderr).toMatch(/^gradgraph: [^\n]+\n$/);
  expect(stderr).toMatch(message);
  expect(status).toBe(2);
}

describe('gradgraph draw', () => {
  it('writes the BN graph as SVG to a file, whole', () => {
    const out = join(work, 'bn.svg');
    const { status, stderr } = gradgraph('draw', 'batchnorm', '--out', out);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const svg = readFileSync(out, 'utf8');
    for (const step of ['mean', 'subtract', 'variance', 'sqrt', 'divide', 'scale', 'shift']) expect(svg).toContain(`>${step}</text>`);
    expect(readdirSync(work).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });

  it('prints DOT with values, gradients and the backward edges, sized and seeded as asked', () => {
    const { status, text } = gradgraph('draw', 'batchnorm', '--format', 'dot', '--values', '--grads', '--backward', '--batch', '5', '--features', '2', '--seed', '3');
    expect(status).toBe(0);
    expect(text).toMatch(/^digraph "gradgraph" \{/);
    expect(text).toContain('N = 5, D = 2');
    expect(text).toContain('∇ mean');
    expect(text).toContain('∂L/∂(x − μ)');
    expect(gradgraph('draw', 'batchnorm', '--format', 'dot', '--values', '--grads', '--backward', '--batch', '5', '--features', '2', '--seed', '3').text).toBe(text);
  });

  it('--grads --full shows every gradient value without --values', () => {
    const { status, text } = gradgraph('draw', 'batchnorm', '--format', 'dot', '--grads', '--full', '--batch', '2', '--features', '2', '--seed', '3');
    expect(status).toBe(0);
    expect(text).not.toContain('∇ mean');
    expect(text).toMatch(/\\n∇ \[-?\d/);
    expect(gradgraph('draw', 'batchnorm', '--format', 'dot', '--grads', '--batch', '2', '--features', '2', '--seed', '3').text).toContain('∇ mean');
  });

  it('draws the primitives view, the recorded backward graph, and the MLP with collapsed modules', () => {
    expect(gradgraph('draw', 'batchnorm', '--primitives', '--format', 'dot').text).toContain('label="square"');
    // The MLP's BatchNorm1d too: its variance split into square and mean.
    const mlpPrimitives = gradgraph('draw', 'mlp', '--primitives', '--format', 'dot').text;
    expect(mlpPrimitives).toContain('label="square"');
    expect(mlpPrimitives).not.toContain('meanSquare');
    expect(gradgraph('draw', 'batchnorm', '--backward-graph', '--format', 'dot').text).toContain('style="dotted"');
    const mlp = gradgraph('draw', 'mlp', '--clusters', 'collapsed', '--direction', 'LR', '--format', 'dot');
    expect(mlp.status).toBe(0);
    expect(mlp.text).toContain('shape="box3d"');
    expect(mlp.text).toContain('rankdir="LR"');
  });

  it('draws the whole recorded backward graph: the upstream gradient named ∂L/∂y, and ∂L/∂β', () => {
    const { status, text } = gradgraph('draw', 'batchnorm', '--backward-graph', '--format', 'dot');
    expect(status).toBe(0);
    expect(text).toContain('label="∂L/∂y\\nN×D"');
    expect(text).toContain('label="∂L/∂β\\nD"');
    expect(text).not.toContain('label="input');
  });

  it('writes PNG, choosing the format from the file name', () => {
    const out = join(work, 'mlp.png');
    expect(gradgraph('draw', 'mlp', '--out', out).status).toBe(0);
    expect(readFileSync(out).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('writes the --format asked for to a file whose extension names no format', () => {
    const out = join(work, 'graph.txt');
    expect(gradgraph('draw', 'batchnorm', '--format', 'dot', '--out', out).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^digraph "gradgraph" \{/);
  });

  it("draws a user's TypeScript module", () => {
    const { status, text, stderr } = gradgraph('draw', 'tests/cli/fixtures/my-graph.ts', '--format', 'dot', '--grads', '--seed', '2');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(text).toContain('label="weight\\n2×2');
    expect(text).toContain('∇ mean');
  });

  it('numbers the steps and adds a legend when asked, and only then', () => {
    const { status, text } = gradgraph('draw', 'batchnorm', '--format', 'dot', '--backward', '--steps', '--legend');
    expect(status).toBe(0);
    expect(text).toContain('label="6. divide"');
    expect(text).toContain('label="(3) ∂L/∂σ =\\n−Σₙ ∂L/∂x̂ · (x − μ) / σ²"');
    expect(text).toContain('subgraph "cluster_legend"');
    expect(text).toContain('label="∂L/∂y\\nrandom, seed 1000"');
    const plain = gradgraph('draw', 'batchnorm', '--format', 'dot', '--backward').text;
    expect(plain).toContain('label="divide"');
    expect(plain).not.toContain('legend');
  });

  it('draws the gradients of a scalar output from ∂L/∂L = 1, and says so', () => {
    const path = join(work, 'loss.mts');
    writeFileSync(path, `import { randn } from ${JSON.stringify(join(root, 'src', 'index.ts'))};\nexport default () => { const w = randn([3], { seed: 1, name: 'w', requiresGrad: true }); const loss = w.square().sum(); loss.name = 'loss'; return loss; };\n`);
    const { status, text } = gradgraph('draw', path, '--format', 'dot', '--grads', '--backward');
    expect(status).toBe(0);
    expect(text).toContain('label="∂L/∂L = 1\\n(L is loss)"');
    expect(text).not.toContain('random');
    expect(text).toContain('label="gradients of the loss L = loss, from ∂L/∂L = 1"');
    expect(text).toContain('label="loss\\nscalar\\n∇ mean 1.00  std 0.00\\n∇ min 1.00  max 1.00"');
  });

  it('draws a Sequential of identical blocks once, marked ×3, with --repeats', () => {
    const { status, text } = gradgraph('draw', 'deep-mlp', '--repeats', '--clusters', 'collapsed', '--format', 'dot');
    expect(status).toBe(0);
    expect(text).toContain('label="Block ×3"');
    expect(text.match(/label="bn: BatchNorm1d\\n8 ops"/g)).toHaveLength(1);
  });

  it('fits a slide: the PNG is drawn to fit the size asked for', () => {
    const out = join(work, 'slide.png');
    expect(gradgraph('draw', 'batchnorm', '--backward', '--direction', 'LR', '--fit', '1920x1080', '--out', out).status).toBe(0);
    const png = readFileSync(out);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    expect(width <= 1920 && height <= 1080).toBe(true);
    expect(width === 1920 || height === 1080).toBe(true);
  });

  it('renders a DOT file and reports a syntax error with Graphviz\'s message and the file it is in, exiting 1', () => {
    const good = join(work, 'good.dot');
    writeFileSync(good, 'digraph { a -> b }');
    expect(gradgraph('draw', good).text).toMatch(/<svg/);
    const bad = join(work, 'bad.dot');
    writeFileSync(bad, 'digraph {\n  a -> b\n  c -> ;\n}\n');
    const out = join(work, 'bad.svg');
    const { status, stderr } = gradgraph('draw', bad, '--out', out);
    expect(stderr).toBe(`gradgraph: error: draw: '${bad}': Graphviz: syntax error in line 3 near ';'\n`);
    expect(status).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it('writes the explorer page for --out FILE.html, of a built-in model or a user\'s module', () => {
    const out = join(work, 'bn.html');
    const { status, stderr } = gradgraph('draw', 'batchnorm', '--out', out);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<title>Batch Normalization: y = γ·(x − μ)/√(σ² + ε) + β</title>');
    expect(html).toContain('"kind":"seed"');
    const mine = gradgraph('draw', fileURLToPath(new URL('./fixtures/my-graph.ts', import.meta.url)), '--format', 'html');
    expect(mine.status).toBe(0);
    expect(mine.text).toContain('<title>my-graph.ts</title>');
  });

  it('says what the explorer does without: picture options and .dot files', () => {
    expectUsageError(['draw', 'batchnorm', '--values', '--grads', '--out', join(work, 'x.html')], /^gradgraph: draw: --values, --grads do nothing for the html explorer, which shows every value and gradient and folds modules on click; drop them\n$/);
    const dot = join(work, 'for-html.dot');
    writeFileSync(dot, 'digraph { a }');
    expectUsageError(['draw', dot, '--format', 'html'], /^gradgraph: draw: the html explorer needs a graph gradgraph builds \(batchnorm, mlp or your module\), not a \.dot file\n$/);
    expectUsageError(['check', 'batchnorm', '--out', join(work, 'check.html')], /^gradgraph: check: --out .*check\.html: the html explorer is gradgraph draw's; end it in \.svg, \.png or \.dot \(\.gv\)\n$/);
  });

  it('refuses a PNG too large to draw in one line naming its size and the ways out, exiting 1', () => {
    const out = join(work, 'long.png');
    const { status, stderr } = gradgraph('draw', fileURLToPath(new URL('./fixtures/long-chain.ts', import.meta.url)), '--out', out);
    expect(stderr).toMatch(/^gradgraph: error: svgToPng: the picture would be [\d,]+ × [\d,]+ pixels \([\d.]+ gigapixels\), .*draw it as SVG instead, collapse modules \(.*--clusters collapsed\), or use a smaller scale .*\n$/);
    expect(status).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it('shows help for each command', () => {
    for (const command of ['draw', 'check', 'start']) {
      const { status, text } = gradgraph(command, '--help');
      expect(status).toBe(0);
      expect(text).toContain(`Usage: gradgraph ${command}`);
    }
    expect(gradgraph('--help').text).toContain('Commands:');
  });

  it('names every built-in graph in gradgraph --help and in draw --help, and wraps no line short', () => {
    const main = gradgraph('--help').text;
    const draw = gradgraph('draw', '--help').text;
    for (const graph of Object.keys(MODELS)) {
      expect(main).toMatch(new RegExp(`^  draw \\S*\\b${graph}\\b`, 'm'));
      expect(draw).toMatch(new RegExp(`^Usage: gradgraph draw \\S*\\b${graph}\\b`, 'm'));
    }
    const description = draw.split('\n\n')[1]!.split('\n');
    for (const line of description.slice(0, -1)) expect(line.length, line).toBeGreaterThan(70);
  });

  it('shows a command\'s help for -h and for gradgraph help COMMAND, as for --help', () => {
    const help = gradgraph('draw', '--help').text;
    expect(gradgraph('draw', '-h')).toMatchObject({ status: 0, text: help });
    expect(gradgraph('help', 'draw')).toMatchObject({ status: 0, text: help });
    expect(gradgraph('help', 'check').text).toContain('Usage: gradgraph check');
  });

  it('prints the version from package.json', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(gradgraph('--version')).toMatchObject({ status: 0, text: `${version}\n`, stderr: '' });
  });
});

describe('gradgraph check', () => {
  it('prints the gradcheck table and exits 0 when BN passes', () => {
    const { status, text } = gradgraph('check', 'batchnorm', '--batch', '3', '--features', '2');
    expect(status).toBe(0);
    expect(text).toContain('gradcheck passed');
    expect(text).toMatch(/^x\s+\[3, 2\]\s+\S+\s+\S+\s+pass\s+output 0\[/m);
    expect(text).toMatch(/^γ\s+\[2\].*pass/m);
    expect(text).toMatch(/^β\s+\[2\].*pass/m);
    expect(text).not.toContain('fast mode');
  });

  it('switches to fast mode when the full Jacobian would never finish, and says so', () => {
    const { status, text } = gradgraph('check', 'batchnorm', '--batch', '1000', '--features', '1000');
    expect(status).toBe(0);
    expect(text).toMatch(/^Gradient check of Batch Normalization, N=1000, D=1000, seed 0, fast mode \(N·D = 1000000 > 1024[^\n]*:$/m);
    expect(text).toContain('gradcheck passed (fast mode');
  });

  it('uses fast mode when asked with --fast, which check --help documents', () => {
    const { status, text } = gradgraph('check', 'batchnorm', '--fast');
    expect(status).toBe(0);
    expect(text).toContain('N=4, D=3, seed 0, fast mode (--fast):');
    expect(text).toContain('gradcheck passed (fast mode');
    expect(gradgraph('check', '--help').text).toMatch(/^ {2}--fast +\S/m);
  });
});

describe('gradgraph start', () => {
  it("makes the folder when it is not there yet, as in a user's project", () => {
    const dir = join(work, 'project-without-graphs', 'graphs');
    const { status, stderr } = gradgraph('start', '--out-dir', dir);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(readdirSync(dir)).toContain('batchnorm.svg');
  });

  it('draws the gallery into a folder and prints the gradient check', () => {
    const dir = join(work, 'gallery');
    mkdirSync(dir);
    const { status, text } = gradgraph('start', '--out-dir', dir);
    expect(status).toBe(0);
    expect(text).toContain('gradcheck passed');
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['batchnorm.dot', 'batchnorm.svg', 'batchnorm.png', 'batchnorm-backward.svg', 'mlp.svg']));
    const help = gradgraph('start', '--help').text;
    for (const format of new Set(readdirSync(dir).map((file) => extname(file).slice(1).toUpperCase()))) expect(help).toContain(format);
  });
});

/**
 * A user's project as `npm init -y` makes it: CommonJS, gradgraph installed (here linked to
 * this checkout, so its modules import the built dist/ as an installed copy would).
 */
function commonJsProject(modules: Record<string, string>): string {
  const project = mkdtempSync(join(work, 'project-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-project', version: '1.0.0', type: 'commonjs' }));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules', 'gradgraph'), 'dir');
  for (const [file, source] of Object.entries(modules)) writeFileSync(join(project, file), source);
  return project;
}

describe("a user's module in a CommonJS project", () => {
  const project = commonJsProject({
    'my-graph.ts': "import { randn } from 'gradgraph';\nexport default ({ seed }: { seed: number }) => randn([2, 2], { seed, name: 'w', requiresGrad: true }).tanh();\n",
    'named.ts': "import { randn } from 'gradgraph';\nexport function build() { return randn([2], { name: 'v', requiresGrad: true }).exp(); }\n",
    'numbers.ts': 'export const x = 1;\nexport const y = 2;\n',
  });

  it('draws the default export and the build export, which tsx hands over one level deeper', () => {
    const fromDefault = gradgraphIn(project, 'draw', './my-graph.ts', '--format', 'dot');
    expect(fromDefault.stderr).toBe('');
    expect(fromDefault.status).toBe(0);
    expect(fromDefault.text).toContain('label="w\\n2×2');
    const fromBuild = gradgraphIn(project, 'draw', './named.ts', '--format', 'dot');
    expect(fromBuild.stderr).toBe('');
    expect(fromBuild.text).toContain('label="v\\n2');
  });

  it('says what a module without a function does export', () => {
    const { status, stderr } = gradgraphIn(project, 'draw', './numbers.ts');
    expect(stderr).toBe("gradgraph: error: draw: './numbers.ts' must export a function (default export or 'build') that returns the output tensor(s); found exports: x, y\n");
    expect(status).toBe(1);
  });
});

/** A mistake in the user's module: exit code 1 and one line on stderr that names the file. */
function expectModuleError(file: string, source: string, message: RegExp, ...options: string[]) {
  const path = join(work, file);
  writeFileSync(path, source);
  const { status, stderr } = gradgraph('draw', path, ...options);
  expect(stderr).toMatch(/^gradgraph: error: draw: [^\n]+\n$/);
  expect(stderr).toContain(`'${path}'`);
  expect(stderr).toMatch(message);
  expect(status).toBe(1);
}

describe("mistakes in the user's module: one line naming the file, exit code 1", () => {
  it('module without a function', () => {
    const { status, stderr } = gradgraph('draw', 'tests/cli/fixtures/no-function.ts');
    expect(stderr).toBe("gradgraph: error: draw: 'tests/cli/fixtures/no-function.ts' must export a function (default export or 'build') that returns the output tensor(s); found exports: answer\n");
    expect(status).toBe(1);
  });
  it('default export that is not a function', () => expectModuleError('number.ts', 'export default 3;\n', /must export a function .*; the default export is a number$/m));
  // .mts: an ES module, whose stack traces tsx maps back to the user's lines.
  it('function that throws', () => expectModuleError('throws.mts', "export default () => { throw new RangeError('no such layer'); };\n", /the function exported by .* threw RangeError: no such layer \(at throws\.mts:1:\d+\)$/m));
  it('function that returns a number', () => expectModuleError('returns-number.ts', 'export default () => 42;\n', /must return a Tensor or a non-empty array of Tensors, got number$/m));
  it('function that returns an empty array', () => expectModuleError('returns-empty.ts', 'export default () => [];\n', /must return a Tensor or a non-empty array of Tensors, got an empty array$/m));
  it('--grads for outputs that need no gradient', () => {
    const source = `import { tensor } from ${JSON.stringify(join(root, 'src', 'index.ts'))};\nexport default () => tensor([1, 2]).exp();\n`;
    expectModuleError('no-grad.mts', source, /the outputs of .* have no gradients to draw: output 0 does not require grad/, '--grads');
  });
  it('syntax error, with its location on the same line', () => {
    expectModuleError('syntax.ts', 'export default () => { const a = ; };\n', /cannot load .*: Transform failed with 1 error: .*syntax\.ts:1:\d+: ERROR: Unexpected ";"$/m);
  });
});

describe('a promise that never settles: one line naming the file, exit code 1', () => {
  it('returned by the exported function', () => {
    expectModuleError('never.ts', 'export default () => new Promise(() => {});\n', /the function exported by .* returned a promise that never settles \(nothing was left for it to wait on\)$/m);
  });
  it('awaited at the top level of the module', () => {
    expectModuleError('never-loads.mts', 'await new Promise(() => {});\nexport default () => 1;\n', /cannot load .*: it awaits a promise that never settles$/m);
  });
  it('awaited at the top level of a module given to check', () => {
    const path = join(work, 'never-loads-check.mts');
    writeFileSync(path, 'await new Promise(() => {});\nexport default () => 1;\n');
    const { status, stderr } = gradgraph('check', path);
    expect(stderr).toBe(`gradgraph: error: check: cannot load '${path}': it awaits a promise that never settles\n`);
    expect(status).toBe(1);
  });
  it('while one that settles later is waited for', () => {
    expectModuleError('later.ts', 'export default () => new Promise((resolve) => setTimeout(() => resolve(3), 100));\n', /must return a Tensor or a non-empty array of Tensors, got number$/m);
  });
});

describe('files that are not regular files', () => {
  it('--out /dev/full: one line, exit code 1, never success', () => {
    const dir = mkdtempSync(join(work, 'full-'));
    const devFull = characterDevice(dir, 'full.svg', 7, '/dev/full');
    const { status, stderr } = gradgraph('draw', 'batchnorm', '--format', 'svg', '--out', devFull);
    expect(stderr).toBe(`gradgraph: error: cannot write '${devFull}': no space left on the device\n`);
    expect(status).toBe(1);
    expect(statSync(devFull).isCharacterDevice()).toBe(true);
  });

  it('--out /dev/null and a link to it: written through, left as they are', () => {
    const dir = mkdtempSync(join(work, 'null-'));
    const devNull = characterDevice(dir, 'null.svg', 3, '/dev/null');
    symlinkSync('/dev/null', join(dir, 'link.svg'));
    for (const out of [devNull, join(dir, 'link.svg')]) expect(gradgraph('draw', 'batchnorm', '--out', out)).toMatchObject({ status: 0, stderr: '', text: '' });
    expect(statSync(devNull).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(dir, 'link.svg')).isSymbolicLink()).toBe(true);
  });

  it('--out /dev/stdout (or /dev/fd/1, or -) is stdout', () => {
    for (const out of ['/dev/fd/1', '-']) expect(gradgraph('draw', 'batchnorm', '--format', 'dot', '--out', out).text).toMatch(/^digraph "gradgraph" \{/);
  });

  it('check --out /dev/stdout: refused, as the report goes there', () => {
    expectUsageError(['check', 'batchnorm', '--out', '/dev/fd/1'], /^gradgraph: check: --out \/dev\/fd\/1 would mix the picture into the report on stdout; give a file name$/m);
  });

  it('--out link.svg: the link stays, the file it names is rewritten', () => {
    const dir = mkdtempSync(join(work, 'link-'));
    writeFileSync(join(dir, 'real.svg'), 'old');
    symlinkSync('real.svg', join(dir, 'link.svg'));
    expect(gradgraph('draw', 'batchnorm', '--out', join(dir, 'link.svg')).status).toBe(0);
    expect(readlinkSync(join(dir, 'link.svg'))).toBe('real.svg');
    expect(readFileSync(join(dir, 'real.svg'), 'utf8')).toMatch(/^<\?xml|^<svg/);
  });

  it('a .dot file that is a link to /dev/zero: refused at the limit, which the message names', () => {
    const zero = join(mkdtempSync(join(work, 'zero-')), 'zero.dot');
    symlinkSync('/dev/zero', zero);
    expectUsageError(['draw', zero], /^gradgraph: cannot read '.*zero\.dot': it is larger than 16 MiB, the most a file read whole may hold$/m);
  });

  it('a module that is a link to /dev/zero is not a module', () => {
    const zero = join(mkdtempSync(join(work, 'zero-')), 'zero.ts');
    symlinkSync('/dev/zero', zero);
    expectUsageError(['draw', zero], /^gradgraph: draw: '.*zero\.ts' is not a regular file; give a module file such as \.\/my-graph\.ts$/m);
  });
});

describe('output into a pipe that the reader closes early', () => {
  // `| true` closes the pipe before the CLI has started, so every write meets EPIPE.
  for (const args of [['draw', 'batchnorm'], ['start', '--out-dir', 'GALLERY']]) {
    it(`gradgraph ${args.join(' ')} | true: exits 0 without a word`, () => {
      const gallery = mkdtempSync(join(work, 'pipe-'));
      const command = '"$NODE" --import "$TSX" "$MAIN" "$@" | true; exit "${PIPESTATUS[0]}"';
      const result = spawnSync('bash', ['-c', command, 'bash', ...args.map((arg) => (arg === 'GALLERY' ? gallery : arg))], {
        cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE: process.execPath, TSX: tsx, MAIN: main },
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });
  }
});

describe('bad use: one line on stderr, exit code 2', () => {
  it('unknown command', () => expectUsageError(['paint'], /unknown command 'paint'/));
  it('no command', () => expectUsageError([], /which command\?/));
  // Names every object inherits must not be mistaken for commands, graphs or options.
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
    it(`'${name}' as a command, a graph and an option`, () => {
      expectUsageError([name], new RegExp(`unknown command '${name}'`));
      expectUsageError(['draw', name], new RegExp(`draw: unknown graph '${name}'`));
      expectUsageError(['draw', 'batchnorm', `--${name}`], new RegExp(`draw: unknown option '--${name}'`));
    });
  }
  it('unknown option', () => expectUsageError(['draw', 'batchnorm', '--colour'], /draw: unknown option '--colour'/));
  it('option without its value', () => expectUsageError(['draw', 'batchnorm', '--out'], /option --out needs a value/));
  it('value not among the choices', () => expectUsageError(['draw', 'batchnorm', '--format', 'gif'], /--format must be one of svg, png, dot, html, got 'gif'/));
  it('unknown graph', () => expectUsageError(['draw', 'resnet'], /unknown graph 'resnet' \(expected batchnorm, mlp/));
  it('a file name with a newline or an escape sequence stays on the message\'s one line', () => {
    expectUsageError(['draw', 'a\nb.dot'], /^gradgraph: draw: cannot find 'a\\nb\.dot'$/m);
    expectUsageError(['draw', 'batchnorm', '--out', '\u001b[31mred.jpg'], /^gradgraph: draw: cannot tell the format of --out \\u001b\[31mred\.jpg;/m);
  });
  it('an option given twice with different values', () => {
    expectUsageError(['draw', 'batchnorm', '--out', join(work, 'a.svg'), '--out', join(work, 'b.svg')], /^gradgraph: draw: option --out given twice, as '.*a\.svg' and as '.*b\.svg'; give it once$/m);
    expect(existsSync(join(work, 'a.svg')) || existsSync(join(work, 'b.svg'))).toBe(false);
  });
  it('a graph that is a folder, whatever its name', () => {
    for (const name of ['dir.dot', 'd.ts']) mkdirSync(join(work, name));
    expectUsageError(['draw', join(work, 'dir.dot')], /^gradgraph: draw: '.*dir\.dot' is a folder; give a \.dot file$/m);
    expectUsageError(['draw', join(work, 'd.ts')], /^gradgraph: draw: '.*d\.ts' is a folder; give a module file such as \.\/my-graph\.ts$/m);
    expectUsageError(['check', join(work, 'd.ts')], /^gradgraph: check: '.*d\.ts' is a folder; give a module file such as \.\/my-graph\.ts$/m);
  });
  it('a graph path that cannot be looked at: through a file, or a loop of links', () => {
    const file = join(work, 'plain-file');
    writeFileSync(file, '');
    expectUsageError(['draw', join(file, 'x.dot')], /^gradgraph: cannot read '.*plain-file\/x\.dot': part of its folder is a file$/m);
    expectUsageError(['draw', join(file, 'x.ts')], /^gradgraph: cannot read '.*plain-file\/x\.ts': part of its folder is a file$/m);
    symlinkSync('loop-b.dot', join(work, 'loop-a.dot'));
    symlinkSync('loop-a.dot', join(work, 'loop-b.dot'));
    expectUsageError(['draw', join(work, 'loop-a.dot')], /^gradgraph: cannot read '.*loop-a\.dot': it is a loop of links$/m);
  });
  it('extensions in upper case: OK.DOT is a DOT file as X.SVG is an SVG; X.TS is named', () => {
    writeFileSync(join(work, 'OK.DOT'), 'digraph { a -> b }');
    const out = join(work, 'X.SVG');
    expect(gradgraph('draw', join(work, 'OK.DOT'), '--out', out)).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(out, 'utf8')).toContain('<svg');
    writeFileSync(join(work, 'UPPER.TS'), 'export default () => 1;\n');
    expectUsageError(['draw', join(work, 'UPPER.TS')], /^gradgraph: draw: Node cannot load a module ending in '\.TS'; rename '.*UPPER\.TS' to end in '\.ts'$/m);
  });
  it('unknown graph to check', () => expectUsageError(['check', 'mlp'], /check: unknown graph 'mlp'/));
  it('missing module file', () => expectUsageError(['draw', './nowhere.ts'], /cannot find '.\/nowhere.ts'/));
  for (const [flag, value] of [['--batch', 'abc'], ['--batch', '1'], ['--features', '2.5'], ['--seed', '-1']]) {
    it(`bad number ${flag} ${value}`, () => expectUsageError(['draw', 'batchnorm', flag, value], new RegExp(`${flag} must be a whole number from \\d+ to \\d+, got '${value.replace('.', '\\.')}'`)));
  }
  it('--format that contradicts the --out extension, leaving no file', () => {
    const out = join(work, 'contradiction.svg');
    expectUsageError(['draw', 'batchnorm', '--format', 'png', '--out', out], /^gradgraph: draw: --format png conflicts with --out .*contradiction\.svg \(\.svg\); drop one$/m);
    expect(existsSync(out)).toBe(false);
  });
  it('--out with an extension that names no format', () => {
    const out = join(work, 'picture.jpg');
    expectUsageError(['draw', 'batchnorm', '--out', out], /draw: cannot tell the format of --out .*picture\.jpg; end it in \.svg, \.png, \.dot \(\.gv\) or \.html, or give --format$/m);
    expect(existsSync(out)).toBe(false);
  });
  it('--out that is a folder, with or without the trailing slash', () => {
    expectUsageError(['draw', 'batchnorm', '--out', `${work}/`], new RegExp(`draw: --out ${work}/ is a folder; give a file name such as ${work}/batchnorm\\.svg$`, 'm'));
    expectUsageError(['draw', 'batchnorm', '--format', 'png', '--out', work], /is a folder; give a file name such as .*batchnorm\.png$/m);
    expect(readdirSync(work).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });
  it('empty --out', () => expectUsageError(['draw', 'batchnorm', '--out='], /^gradgraph: draw: --out needs a file name$/m));
  it('--out through a file', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, '');
    expectUsageError(['draw', 'batchnorm', '--out', join(file, 'x.svg')], /cannot write '.*x\.svg': part of its folder is a file/);
  });
  it('hints name the whole command', () => expectUsageError(['draw'], /^gradgraph: draw: which graph\? \(see gradgraph draw --help\)$/m));
  it('help for an unknown command', () => expectUsageError(['help', 'paint'], /unknown command 'paint'/));
  it('options that do nothing for a .dot file', () => {
    const dot = join(work, 'as-is.dot');
    writeFileSync(dot, 'digraph { a -> b }');
    expectUsageError(['draw', dot, '--grads'], /^gradgraph: draw: --grads does nothing for a \.dot file, which is drawn as it is; drop it$/m);
    expectUsageError(['draw', dot, '--values', '--batch', '3'], /draw: --values, --batch do nothing for a \.dot file/);
  });
  it('--fit that is not a size', () => expectUsageError(['draw', 'batchnorm', '--fit', 'slide'], /draw: --fit must be WIDTHxHEIGHT in pixels, each from 16 to 99999, e.g. 1920x1080; got 'slide'/));
  it('--full without --values or --grads', () => expectUsageError(['draw', 'batchnorm', '--full'], /draw: --full shows every value for --values or --grads; add one of them or drop --full/));
  it('--backward with --backward-graph', () => expectUsageError(['draw', 'batchnorm', '--backward', '--backward-graph'], /draw: --backward and --backward-graph .*; pick one/));
  it('--out-dir that is a file', () => {
    const file = join(work, 'not-a-folder');
    writeFileSync(file, '');
    expectUsageError(['start', '--out-dir', file], /start: cannot make the folder '.*not-a-folder': a file has that name/);
  });
  // util-linux `script` runs the CLI with a terminal as its stdout (its output is that terminal's).
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true;
  it.skipIf(!hasScript)('PNG to a terminal', () => {
    const command = `"${process.execPath}" --import "${tsx}" "${main}" draw batchnorm --format png`;
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.stdout.trim()).toBe('gradgraph: draw: refusing to write PNG bytes to a terminal; use --out FILE.png');
    expect(result.status).toBe(2);
  });
  it('unwritable path', () => expectUsageError(['draw', 'batchnorm', '--out', join(work, 'missing', 'x.svg')], /cannot write '.*x\.svg': its folder does not exist/));
  it('unwritable folder', () => {
    const locked = join(work, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    // root ignores permissions; the folder-does-not-exist case above still covers every machine.
    if (process.getuid?.() === 0) return;
    expectUsageError(['draw', 'batchnorm', '--out', join(locked, 'x.svg')], /permission denied/);
  });
});
