import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/* `gradgraph check ./my-graph.ts`, spawned as a user runs it. */

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'src', 'cli', 'main.ts');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
// A folder outside the repository, with no node_modules: 'gradgraph' must still be the CLI's own.
const work = mkdtempSync(join(tmpdir(), 'gradgraph-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function gradgraphIn(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', tsx, main, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function moduleFile(name: string, source: string): string {
  const path = join(work, name);
  writeFileSync(path, source);
  return path;
}

const CUBE = `
const cube = defineOp({
  name: 'cube', inputNames: ['x'], label: 'x³',
  forward: (x) => x.mul(x).mul(x),
  // 1e-3 too large: the kind of slip a flat rtol of 1e-3 lets through.
  backward: ({ inputs: [x] }, g) => [g.mul(x.square()).mul(3.003)],
});
`;

const wrongInBatchNorm = moduleFile('wrong-bn.ts', `import { batchNorm, defineOp, randn } from 'gradgraph';
${CUBE}
const x = randn([6, 4], { seed: 1, requiresGrad: true, name: 'x' });
const gamma = randn([4], { seed: 2, isParameter: true, name: 'γ' });
const beta = randn([4], { seed: 3, isParameter: true, name: 'β' });
export default () => batchNorm(cube(x), gamma, beta);
`);

describe('gradgraph check FILE.ts', () => {
  it('names the wrong op in one line on stderr and exits 1, with the tables on stdout', () => {
    const { status, stdout, stderr } = gradgraphIn(work, 'check', wrongInBatchNorm);
    expect(stderr).toMatch(/^gradgraph: error: check: the gradient of op 'cube' \('x³'\) with respect to its input x is wrong at x\[\d, \d\] \(output \[\d, \d\]\): analytic \S+, numeric \S+ \(max rel err 9\.99e-4, 24 of 24 elements wrong\)\n$/);
    expect(status).toBe(1);
    expect(stdout).toMatch(/^Gradient check of '.*wrong-bn\.ts' \(full mode: every element; .*\): FAILED$/m);
    expect(stdout).toMatch(/^x\s+\[6, 4\]\s+\S+\s+9\.99e-4\s+FAIL \(24 of 24\)/m);
    expect(stdout).toMatch(/^γ\s+\[4\].*pass/m);
    expect(stdout).toMatch(/^cube\s+x³\s+x\s+\S+\s+9\.99e-4\s+FAIL/m);
    expect(stdout).toMatch(/^sqrt\s+sqrt\s+x\s+\S+\s+\S+\s+pass$/m);
  });

  it('passes a right module, exiting 0, and draws the check with --out', () => {
    const right = moduleFile('right.ts', `import { Linear, randn, Sequential, Tanh, BatchNorm1d } from 'gradgraph';
const net = new Sequential([new Linear(3, 4, { seed: 1 }), new BatchNorm1d(4), new Tanh(), new Linear(4, 2, { seed: 2 })]);
const x = randn([5, 3], { seed: 3, name: 'x', requiresGrad: true });
export default () => net.call(x);
`);
    const out = join(work, 'right.dot');
    const { status, stdout, stderr } = gradgraphIn(work, 'check', right, '--out', out);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/: passed$/m);
    // The inputs are the leaves that require grad: x and every parameter.
    for (const name of ['x', 'weight', 'bias', 'gamma', 'beta']) expect(stdout).toMatch(new RegExp(`^${name}\\s+\\[[\\d, ]+\\].*pass`, 'm'));
    const dot = readFileSync(out, 'utf8');
    expect(dot).toContain('fillcolor="#b9e4c2"');
    expect(dot).not.toContain('CULPRIT');
  });

  it('draws the culprit highlighted, as SVG or PNG, and names its module scope', () => {
    const inModule = moduleFile('wrong-module.ts', `import { defineOp, Linear, Module, randn, Sequential, type Tensor } from 'gradgraph';
${CUBE}
class Cube extends Module {
  constructor() { super('cube: Cube'); }
  forward(x: Tensor): Tensor { return cube(x); }
}
const net = new Sequential([new Linear(3, 4, { seed: 1 }), new Cube(), new Linear(4, 2, { seed: 2 })], { name: 'Net' });
const x = randn([5, 3], { seed: 3, name: 'x' });
export default () => net.call(x);
`);
    const svg = join(work, 'check.svg');
    const { status, stderr } = gradgraphIn(work, 'check', inModule, '--out', svg);
    expect(stderr).toMatch(/^gradgraph: error: check: the gradient of op 'cube' \('x³', in Net › cube: Cube\) with respect to its input x is wrong at x\[/);
    expect(status).toBe(1);
    const picture = readFileSync(svg, 'utf8');
    expect(picture).toContain('>CULPRIT</text>');
    expect(picture).toContain('stroke="#c0392b"');
    const png = join(work, 'check.png');
    expect(gradgraphIn(work, 'check', inModule, '--out', png).status).toBe(1);
    expect(readFileSync(png).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('--fast compares projections, halved down to the wrong element, and still names the culprit', () => {
    const { status, stdout, stderr } = gradgraphIn(work, 'check', wrongInBatchNorm, '--fast');
    expect(stdout).toContain('fast mode: random projections');
    expect(stderr).toContain("the gradient of op 'cube' ('x³') with respect to its input x is wrong at x[");
    expect(status).toBe(1);
  });

  it('switches to fast mode above 1,024 input elements, and --full keeps every element', () => {
    const large = moduleFile('large.ts', `import { randn } from 'gradgraph';
const x = randn([40, 30], { seed: 1, requiresGrad: true, name: 'x' });
export default () => x.tanh().mul(x).sum(1);
`);
    const fast = gradgraphIn(work, 'check', large);
    expect(fast.stdout).toContain('as the inputs have 1200 > 1024 elements');
    expect(fast.status).toBe(0);
    const full = gradgraphIn(work, 'check', large, '--full');
    expect(full.stdout).toContain('full mode: every element');
    expect(full.status).toBe(0);
  });

  it('says in one line when the function makes new leaves on every call, and how to write it instead', () => {
    const fresh = moduleFile('fresh.ts', "import { randn } from 'gradgraph';\nexport default ({ seed }: { seed: number }) => randn([2, 2], { seed, requiresGrad: true, name: 'w' }).tanh();\n");
    const { status, stderr } = gradgraphIn(work, 'check', fresh);
    expect(stderr).toBe(`gradgraph: error: check: the function exported by '${fresh}' makes new input tensors on every call, so changing them cannot change its result; create the tensors that require grad once, outside the function, and only compute with them inside\n`);
    expect(status).toBe(1);
  });

  it('says so when no tensor requires grad', () => {
    const constant = moduleFile('constant.ts', "import { tensor } from 'gradgraph';\nexport default () => tensor([1, 2]).exp();\n");
    const { status, stderr } = gradgraphIn(work, 'check', constant);
    expect(stderr).toMatch(/^gradgraph: error: check: the outputs of '.*constant\.ts' were computed from no tensor with requiresGrad: true, so there is no gradient to check\n$/);
    expect(status).toBe(1);
  });

  it('shares one copy of gradgraph with a module in a CommonJS project whose node_modules has its own', () => {
    const project = mkdtempSync(join(work, 'project-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-project', version: '1.0.0', type: 'commonjs' }));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(root, join(project, 'node_modules', 'gradgraph'), 'dir');
    writeFileSync(join(project, 'my-graph.ts'), "import { randn } from 'gradgraph';\nconst w = randn([2, 2], { seed: 1, name: 'w', requiresGrad: true });\nexport default () => w.tanh();\n");
    const { status, stdout, stderr } = gradgraphIn(project, 'check', './my-graph.ts');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^w\s+\[2, 2\].*pass/m);
    expect(status).toBe(0);
  });

  it('bad use exits 2 with one line: --fast with --full, a missing file, an --out of no known format', () => {
    for (const [args, message] of [
      [['check', wrongInBatchNorm, '--fast', '--full'], /^gradgraph: check: --fast and --full ask for two different checks; pick one\n$/],
      [['check', './nowhere.ts'], /^gradgraph: check: cannot find '\.\/nowhere\.ts'\n$/],
      [['check', wrongInBatchNorm, '--out', join(work, 'check.jpg')], /^gradgraph: check: cannot tell the format of --out .*check\.jpg; end it in \.svg, \.png or \.dot \(\.gv\)\n$/],
      [['check', 'resnet'], /^gradgraph: check: unknown graph 'resnet' \(expected batchnorm or a module such as \.\/my-graph\.ts\)\n$/],
    ] as const) {
      const { status, stderr } = gradgraphIn(work, ...args);
      expect(stderr).toMatch(message);
      expect(status).toBe(2);
    }
  });
});

describe('gradgraph check batchnorm --out', () => {
  it('draws every step of BN checked on its own, all passing', () => {
    const out = join(work, 'bn-check.dot');
    const { status, stdout } = gradgraphIn(root, 'check', 'batchnorm', '--out', out, '--full');
    expect(status).toBe(0);
    expect(stdout).toContain('gradcheck passed (full mode');
    const dot = readFileSync(out, 'utf8');
    for (const step of ['mean', 'subtract', 'variance', 'sqrt', 'divide', 'scale', 'shift']) expect(dot).toMatch(new RegExp(`label="${step}\\\\n✓ max rel err `));
  });
});
