import { parseArgs } from 'node:util';

/*
 * Command-line parsing on top of node:util's parseArgs, with the checks a person needs: an
 * unknown option, a missing value or a bad number is one line naming the option and what was
 * given. Every such mistake is a UsageError, which the CLI turns into exit code 2.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly help: string;
  /** For a string option: the values it takes, or how to describe them. */
  readonly values?: readonly string[];
  readonly placeholder?: string;
  /** A one-letter alias: `h` for `-h`. */
  readonly short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export function parse(command: string, args: readonly string[], specs: OptionSpecs): Parsed {
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }]));
  // strict: false so that the checks below, not parseArgs, word the errors.
  const { values, positionals, tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const given = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    // Own keys only: `--constructor` is not an option just because every object has one.
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (spec === undefined) throw new UsageError(`${command}: unknown option '${token.rawName}' (see gradgraph ${command} --help)`);
    if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(`${command}: option ${token.rawName} takes no value`);
    if (spec.type === 'string') {
      if (token.value === undefined || token.value.startsWith('--')) throw new UsageError(`${command}: option ${token.rawName} needs a value`);
      if (spec.values && !spec.values.includes(token.value)) {
        throw new UsageError(`${command}: option ${token.rawName} must be one of ${spec.values.join(', ')}, got '${token.value}'`);
      }
      // parseArgs keeps the last of `--out a.svg --out b.svg`; which one was meant is for the user to say.
      const earlier = given.get(token.name);
      if (earlier !== undefined && earlier !== token.value) throw new UsageError(`${command}: option --${token.name} given twice, as '${earlier}' and as '${token.value}'; give it once`);
      given.set(token.name, token.value);
    }
  }
  return { values: values as Parsed['values'], positionals };
}

/** An integer option within [min, max], or `fallback` when absent. */
export function integerOption(command: string, parsed: Parsed, name: string, min: number, max: number, fallback: number): number {
  const raw = parsed.values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${command}: --${name} must be a whole number from ${min} to ${max}, got '${String(raw)}'`);
  }
  return value;
}

export function helpText(usage: string, description: string, specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const value = spec.type === 'string' ? ` ${spec.values ? spec.values.join('|') : (spec.placeholder ?? 'VALUE')}` : '';
    return [`${spec.short ? `-${spec.short}, ` : ''}--${name}${value}`, spec.help];
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  return [`Usage: ${usage}`, '', description, '', 'Options:', ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`), ''].join('\n');
}
