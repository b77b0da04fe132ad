import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { characterDevice } from '../helpers.js';
import { headline, readTextFile, READ_LIMIT_BYTES, temporaryPath, writeOutputFile } from '../../src/cli/output.js';

const work = mkdtempSync(join(tmpdir(), 'gradgraph-output-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh folder per test, so that "nothing else was left here" can be checked. */
function folder(name: string): string {
  const path = join(work, name);
  mkdirSync(path);
  return path;
}

function expectThrown(action: () => unknown, type: new (message: string) => Error, message: string) {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as Error).message).toBe(message);
}

describe('writeOutputFile', () => {
  it('refuses a folder before writing anything beside it', () => {
    const folder = join(work, 'pictures');
    for (const path of [`${folder}/`, work]) {
      expect(() => writeOutputFile(path, 'x')).toThrow(`cannot write '${path}': it is a folder`);
    }
    expect(readdirSync(work)).toEqual([]);
    expect(readdirSync(dirname(work)).filter((file) => file.startsWith(`.${basename(work)}.`))).toEqual([]);
    expect(existsSync(folder)).toBe(false);
  });

  it('writes a new file whole and leaves no temporary file', () => {
    const dir = folder('new');
    writeOutputFile(join(dir, 'graph.svg'), '<svg/>');
    expect(readdirSync(dir)).toEqual(['graph.svg']);
    expect(readFileSync(join(dir, 'graph.svg'), 'utf8')).toBe('<svg/>');
  });

  it('keeps the mode of a file it rewrites: 0600 stays 0600', () => {
    const dir = folder('mode');
    const path = join(dir, 'private.svg');
    writeFileSync(path, 'old');
    chmodSync(path, 0o600);
    writeOutputFile(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  // Only root can give a file to someone else; for anyone else the rewrite is theirs, as with cp.
  it.skipIf(process.getuid?.() !== 0)('keeps the owner of a file root rewrites', () => {
    const path = join(folder('owner'), 'theirs.svg');
    writeFileSync(path, 'old');
    chownSync(path, 1234, 5678);
    writeOutputFile(path, 'new');
    expect(statSync(path)).toMatchObject({ uid: 1234, gid: 5678 });
  });

  it('writes a file whose name has 254 characters: the temporary name fits beside it', () => {
    const dir = folder('long');
    const name = `${'a'.repeat(250)}.svg`;
    writeOutputFile(join(dir, name), 'picture');
    expect(readdirSync(dir)).toEqual([name]);
  });

  it('writes through a link to a regular file: the link stays, its target is replaced whole', () => {
    const dir = folder('link');
    writeFileSync(join(dir, 'real.svg'), 'old');
    chmodSync(join(dir, 'real.svg'), 0o640);
    symlinkSync('real.svg', join(dir, 'link.svg'));
    writeOutputFile(join(dir, 'link.svg'), 'new');
    expect(lstatSync(join(dir, 'link.svg')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'link.svg'))).toBe('real.svg');
    expect(readFileSync(join(dir, 'real.svg'), 'utf8')).toBe('new');
    expect(statSync(join(dir, 'real.svg')).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['link.svg', 'real.svg']);
  });

  it('refuses a link to nothing, and leaves it as it was', () => {
    const dir = folder('dangling');
    symlinkSync('nowhere.svg', join(dir, 'link.svg'));
    expectThrown(() => writeOutputFile(join(dir, 'link.svg'), 'x'), UsageError, `cannot write '${join(dir, 'link.svg')}': it is a link to 'nowhere.svg', which does not exist`);
    expect(readlinkSync(join(dir, 'link.svg'))).toBe('nowhere.svg');
    expect(readdirSync(dir)).toEqual(['link.svg']);
  });

  it('writes through a device node and a link to /dev/null, never putting a regular file in their place', () => {
    const dir = folder('devices');
    const devNull = characterDevice(dir, 'null.svg', 3, '/dev/null');
    symlinkSync('/dev/null', join(dir, 'link-to-null.svg'));
    for (const path of [devNull, join(dir, 'link-to-null.svg')]) writeOutputFile(path, 'discarded');
    expect(statSync(devNull).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(dir, 'link-to-null.svg')).isSymbolicLink()).toBe(true);
    expect(readdirSync(dir).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });

  it('fails on a full device (/dev/full) as a failed run, not as bad use, and not as success', () => {
    const dir = folder('full');
    const devFull = characterDevice(dir, 'full.svg', 7, '/dev/full');
    expectThrown(() => writeOutputFile(devFull, 'x'.repeat(10_000)), Error, `cannot write '${devFull}': no space left on the device`);
    expect(statSync(devFull).isCharacterDevice()).toBe(true);
  });

  it('writes through a named pipe to the program reading it', async () => {
    const dir = folder('fifo');
    const fifo = join(dir, 'pipe.svg');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // `timeout`: a writer that never opens the pipe must fail the test, not hang it.
    const reader = spawn('timeout', ['20', 'cat', fifo]);
    const received: Buffer[] = [];
    reader.stdout.on('data', (chunk: Buffer) => received.push(chunk));
    const exited = new Promise((resolve) => reader.on('close', resolve));
    writeOutputFile(fifo, '<svg>through the pipe</svg>');
    expect(await exited).toBe(0);
    expect(Buffer.concat(received).toString('utf8')).toBe('<svg>through the pipe</svg>');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('tells a folder that does not exist from one that takes no new files (/proc)', () => {
    const missing = join(work, 'missing', 'x.svg');
    expectThrown(() => writeOutputFile(missing, 'x'), UsageError, `cannot write '${missing}': its folder does not exist`);
    if (existsSync('/proc/self')) expectThrown(() => writeOutputFile('/proc/x.svg', 'x'), UsageError, "cannot write '/proc/x.svg': its folder takes no new files");
  });

  it('never writes through a link planted at a predictable temporary name', () => {
    const dir = folder('planted');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious');
    // The name the old writer used: `.NAME.PID.tmp`.
    symlinkSync(victim, join(dir, `.graph.svg.${process.pid}.tmp`));
    writeOutputFile(join(dir, 'graph.svg'), 'picture');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(join(dir, 'graph.svg')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'graph.svg'), 'utf8')).toBe('picture');
  });

  it('names its temporary file at random, beside the target, short whatever the target is called', () => {
    const target = join(work, `${'b'.repeat(254)}`);
    const names = Array.from({ length: 100 }, () => temporaryPath(target));
    expect(new Set(names).size).toBe(100);
    for (const name of names) {
      expect(dirname(name)).toBe(work);
      expect(basename(name)).toMatch(/^\.gradgraph-[0-9a-f]{16}\.tmp$/);
    }
  });
});

describe('readTextFile', () => {
  it('reads a file whole', () => {
    const path = join(folder('read'), 'graph.dot');
    writeFileSync(path, 'digraph { a -> b }');
    expect(readTextFile(path)).toBe('digraph { a -> b }');
  });

  it('stops at its limit, which the error names: a link to /dev/zero ends with a message', () => {
    const dir = folder('zero');
    symlinkSync('/dev/zero', join(dir, 'zero.dot'));
    expect(READ_LIMIT_BYTES).toBe(16 * 2 ** 20);
    expectThrown(() => readTextFile(join(dir, 'zero.dot')), UsageError, `cannot read '${join(dir, 'zero.dot')}': it is larger than 16 MiB, the most a file read whole may hold`);
    const path = join(dir, 'big.dot');
    writeFileSync(path, 'x'.repeat(1001));
    expectThrown(() => readTextFile(path, 1000), UsageError, `cannot read '${path}': it is larger than 1000 bytes, the most a file read whole may hold`);
    expect(readTextFile(path, 1001)).toHaveLength(1001);
  });

  it('refuses a folder and a file that is not there, as bad use', () => {
    const dir = folder('read-folder');
    expectThrown(() => readTextFile(dir), UsageError, `cannot read '${dir}': it is a folder`);
    expectThrown(() => readTextFile(join(dir, 'none.dot')), UsageError, `cannot read '${join(dir, 'none.dot')}': it does not exist`);
  });
});

describe('headline', () => {
  it('keeps the first line, and the next one when the first is only a header', () => {
    expect(headline('first\nsecond')).toBe('first');
    expect(headline('Transform failed with 1 error:\n/p/syntax.ts:1:41: ERROR: Unexpected ";"\n')).toBe('Transform failed with 1 error: /p/syntax.ts:1:41: ERROR: Unexpected ";"');
    expect(headline('\n\nonly after blank lines')).toBe('only after blank lines');
    expect(headline('ends with a colon:')).toBe('ends with a colon:');
  });
});
