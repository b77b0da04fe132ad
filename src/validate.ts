/*
 * Argument checking shared by every public function: one way to say what a value is, and one
 * way to refuse it. Every message starts with the function's name, then the argument, then
 * what it got ("sum: axis must be an integer, got the string '1'"), so a user can act on it.
 */

const MAX_SHOWN = 40;

/** What a value is, for an error message: `the string '3'`, `NaN`, `null`, `an array of length 2`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'NaN' : Object.is(value, -0) ? '-0' : String(value);
    case 'string': {
      const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
      return `the string ${JSON.stringify(shown).replace(/^"|"$/g, "'")}`;
    }
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
      return String(value);
    case 'symbol':
      return `a symbol`;
    case 'function':
      return 'a function';
    default:
      break;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value instanceof Float64Array) return `a Float64Array of length ${value.length}`;
  const constructorName = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof constructorName === 'string' && constructorName !== 'Object' && constructorName !== '') {
    return constructorName === 'Tensor' ? 'a Tensor' : `an object of class ${constructorName}`;
  }
  return 'an object';
}

/**
 * A list as JSON (`[2,-1]`, the way a user typed it), or what the value is when JSON cannot show
 * it (a Tensor's graph is circular, a bigint throws): the message must not fail while being written.
 */
export function describeList(value: unknown): string {
  if (!Array.isArray(value)) return describeValue(value);
  try {
    return JSON.stringify(value);
  } catch {
    return describeValue(value);
  }
}

/** The known name nearest to `name` by edit distance, if it is close enough to be a likely typo. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Refuses an options argument that is not a plain object (undefined is fine) or that has a key
 * the function does not know, naming the nearest known key: a misspelt option silently ignored
 * (`keepdim` for `keepdims`) gives a wrong result with no word said.
 */
export function checkOptions<T extends object>(fn: string, options: T | undefined, known: readonly (keyof T & string)[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${fn}: options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(known as readonly string[]).includes(key)) {
      const near = nearestName(key, known);
      const hint = near === undefined
        ? known.length === 0 ? ' (it takes none)' : ` (known: ${known.map((k) => `'${k}'`).join(', ')})`
        : `; did you mean '${near}'?`;
      throw new Error(`${fn}: unknown option '${key}'${hint}`);
    }
  }
  return options;
}

export function expectInteger(fn: string, argument: string, value: unknown, { min = -Infinity, max = Infinity } = {}): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = min === -Infinity && max === Infinity ? 'an integer'
      : max === Infinity ? min === 0 ? 'an integer >= 0' : min === 1 ? 'a positive integer' : `an integer >= ${min}`
        : `an integer from ${min} to ${max}`;
    throw new Error(`${fn}: ${argument} must be ${range}, got ${describeValue(value)}`);
  }
  return value;
}

export function expectFiniteNumber(fn: string, argument: string, value: unknown, { min = -Infinity, exclusiveMin = false } = {}): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (exclusiveMin ? value > min : value >= min);
  if (!ok) {
    const bound = min === -Infinity ? '' : exclusiveMin ? ` > ${min}` : ` >= ${min}`;
    throw new Error(`${fn}: ${argument} must be a finite number${bound}, got ${describeValue(value)}`);
  }
  return value as number;
}

export function expectBoolean(fn: string, argument: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`${fn}: ${argument} must be true or false, got ${describeValue(value)}`);
  return value;
}

export function expectOneOf<const T extends string>(fn: string, argument: string, value: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new Error(`${fn}: ${argument} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

export function expectFunction(fn: string, argument: string, value: unknown): (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new Error(`${fn}: ${argument} must be a function, got ${describeValue(value)}`);
  return value as (...args: never[]) => unknown;
}
