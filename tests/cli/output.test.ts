import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { headline, writeFileAtomic } from '../../src/cli/output.js';

const work = mkdtempSync(join(tmpdir(), 'gradgraph-output-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('refuses a folder before writing anything beside it', () => {
    const folder = join(work, 'pictures');
    for (const path of [`${folder}/`, work]) {
      expect(() => writeFileAtomic(path, 'x')).toThrow(`cannot write '${path}': it is a folder`);
    }
    expect(readdirSync(work)).toEqual([]);
    expect(readdirSync(dirname(work)).filter((file) => file.startsWith(`.${basename(work)}.`))).toEqual([]);
    expect(existsSync(folder)).toBe(false);
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
