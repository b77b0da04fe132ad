import { formatShape, sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue } from '../validate.js';

/** A module's parameters and buffers by dotted path, in plain JSON: `JSON.stringify` saves it, `JSON.parse` reads it back. */
export type StateDict = Record<string, { shape: number[]; data: number[] }>;

export interface LoadStateOptions {
  /** Refuse missing and unexpected keys (default true, as PyTorch). Shapes must match either way. */
  strict?: boolean;
}

export function saveState(named: readonly [string, Tensor][]): StateDict {
  const state: StateDict = {};
  for (const [path, t] of named) state[path] = { shape: [...t.shape], data: Array.from(t.storage) };
  return state;
}

const quoted = (keys: readonly string[]) => keys.map((key) => `'${key}'`).join(', ');

/** Checks everything first, then copies: a state dict that does not fit changes nothing. */
export function loadState(fn: string, named: readonly [string, Tensor][], state: StateDict, options?: LoadStateOptions): void {
  const { strict = true } = checkOptions(fn, options, ['strict']);
  if (state === null || typeof state !== 'object' || Array.isArray(state)) throw new Error(`${fn}: state must be an object of { shape, data } entries, got ${describeValue(state)}`);
  const own = new Map(named);
  if (strict) {
    const missing = [...own.keys()].filter((key) => !Object.hasOwn(state, key));
    const unexpected = Object.keys(state).filter((key) => !own.has(key));
    const problems = [
      missing.length > 0 ? `missing key(s) ${quoted(missing)}` : '',
      unexpected.length > 0 ? `unexpected key(s) ${quoted(unexpected)}` : '',
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`${fn}: ${problems.join('; ')} (the module has ${quoted([...own.keys()])}; pass { strict: false } to load the keys both have)`);
  }
  const loads: [Tensor, readonly number[]][] = [];
  for (const [key, t] of own) {
    if (!Object.hasOwn(state, key)) continue;
    const entry = state[key];
    const valid = entry !== null && typeof entry === 'object' && Array.isArray(entry.shape) && Array.isArray(entry.data) && entry.data.length === sizeOf(entry.shape) && entry.data.every((v) => typeof v === 'number');
    if (!valid) throw new Error(`${fn}: '${key}' must be { shape, data } with one number in data per element of shape, got ${describeValue(entry)}`);
    if (formatShape(entry.shape) !== formatShape(t.shape)) {
      throw new Error(`${fn}: '${key}' has shape ${formatShape(entry.shape)} in the state dict but ${formatShape(t.shape)} in the module`);
    }
    loads.push([t, entry.data]);
  }
  for (const [t, data] of loads) t.data.set(data);
}
