import { describe, expect, it } from 'vitest';
import { parse, UsageError, type OptionSpecs } from '../../src/cli/args.js';

const SPECS: OptionSpecs = {
  out: { type: 'string', help: 'where' },
  format: { type: 'string', values: ['svg', 'png'], help: 'what' },
  values: { type: 'boolean', help: 'show values' },
};

describe('parse', () => {
  it('refuses a string option given twice with different values, naming both', () => {
    expect(() => parse('draw', ['--out', 'a.svg', '--out', 'b.svg'], SPECS)).toThrow(new UsageError("draw: option --out given twice, as 'a.svg' and as 'b.svg'; give it once"));
    expect(() => parse('draw', ['--format=svg', '--format', 'png'], SPECS)).toThrow("draw: option --format given twice, as 'svg' and as 'png'; give it once");
  });

  it('takes an option repeated with the same value, and a repeated flag, as given once', () => {
    expect(parse('draw', ['--out', 'a.svg', '--out=a.svg', '--values', '--values'], SPECS).values).toEqual({ out: 'a.svg', values: true });
  });
});
