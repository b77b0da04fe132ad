import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTensor, type Tensor } from '../index.js';
import { kindOf } from '../graph/trace.js';
import { UsageError } from './args.js';
import { importUserModule } from './one-library.js';
import { headline } from './output.js';
import { NEVER_SETTLES, settledOrStuck } from './unsettled.js';

/*
 * `gradgraph draw ./my-graph.ts` and `gradgraph check ./my-graph.ts`: loads a user's module and
 * calls the function it exports.
 * A path that does not exist is bad use of the CLI (exit 2); anything wrong inside the module
 * (it does not compile, exports no function, throws, returns no tensors) is the module's
 * mistake: exit 1, one line that names the file.
 */

type Exports = Record<string, unknown>;

/** The sizes and seed the CLI hands to the user's function. */
export interface BuildOptions {
  batch: number;
  features: number;
  seed: number;
  primitives: boolean;
}

/*
 * How deep an export can sit. tsx's tsImport of a module in a CommonJS project ("type":
 * "commonjs", what `npm init -y` writes) gives its `module.exports` as the default export, so
 * `export default fn` arrives as `{ default: { default: fn } }`, and `export default { build }`
 * one level deeper still.
 */
const NESTING = 3;

/** The exported function: `default` or `build`, at the top or inside a default export object. */
function exportedFunction(module: Exports): ((options: BuildOptions) => unknown) | undefined {
  let level: Exports = module;
  for (let depth = 0; depth < NESTING; depth++) {
    if (typeof level.default === 'function') return level.default as (options: BuildOptions) => unknown;
    if (typeof level.build === 'function') return level.build as (options: BuildOptions) => unknown;
    if (typeof level.default !== 'object' || level.default === null) return undefined;
    level = level.default as Exports;
  }
  return undefined;
}

/** What the module does export, for the error that says it exports no function. */
function describeExports(module: Exports): string {
  const names = new Set<string>();
  let level: Exports = module;
  let defaultExport: unknown;
  for (let depth = 0; depth < NESTING; depth++) {
    for (const name of Object.keys(level)) if (name !== 'default' && name !== '__esModule') names.add(name);
    defaultExport = level.default;
    if (typeof defaultExport !== 'object' || defaultExport === null) break;
    level = defaultExport as Exports;
  }
  const found = [
    ...(defaultExport === undefined ? [] : [`the default export is ${kindOf(defaultExport) === 'object' ? 'an object' : `a ${kindOf(defaultExport)}`}`]),
    ...(names.size === 0 ? [] : [`found exports: ${[...names].join(', ')}`]),
  ];
  return found.length === 0 ? 'it exports nothing' : found.join('; ');
}

/** Where in the user's file an error was thrown, from its stack: ` (at my-graph.ts:5:11)`. */
function locationIn(file: string, error: unknown): string {
  const stack = error instanceof Error ? error.stack ?? '' : '';
  const url = pathToFileURL(file).href;
  for (const line of stack.split('\n')) {
    const match = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/.exec(line.trim());
    if (match && (match[1] === file || match[1] === url)) return ` (at ${basename(file)}:${match[2]}:${match[3]})`;
  }
  return '';
}

/** `TypeError: x is undefined`; a plain Error (esbuild's syntax errors) is just its message. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return headline(String(error));
  return error.name === 'Error' ? headline(error.message) : `${error.name}: ${headline(error.message)}`;
}

/** What the function returned when that was not tensors: `number`, `an empty array`, ... */
function describeResult(result: unknown): string {
  if (!Array.isArray(result)) return kindOf(result);
  if (result.length === 0) return 'an empty array';
  const bad = result.findIndex((item) => !isTensor(item));
  return `an array whose item ${bad} is ${kindOf(result[bad])}`;
}

/** The function a user's module exports; it is handed the sizes and returns the output tensors. */
export type UserFunction = (options: BuildOptions) => unknown;

/** Loads a user's module (`command` names the CLI command in errors) and finds its function. */
export async function loadUserFunction(command: string, path: string): Promise<UserFunction> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`${command}: cannot find '${path}'`);
  let module: Exports | typeof NEVER_SETTLES;
  try {
    // tsx loads TypeScript at run time, so the built CLI can run a user's .ts module as it is.
    module = await settledOrStuck(importUserModule(pathToFileURL(file).href) as Promise<Exports>);
  } catch (error) {
    throw new Error(`${command}: cannot load '${path}': ${describeError(error)}${locationIn(file, error)}`);
  }
  if (module === NEVER_SETTLES) throw new Error(`${command}: cannot load '${path}': it awaits a promise that never settles`);
  const build = exportedFunction(module);
  if (build === undefined) {
    throw new Error(`${command}: '${path}' must export a function (default export or 'build') that returns the output tensor(s); ${describeExports(module)}`);
  }
  return build;
}

/** The outputs a call returned, or an error naming the file when they are not tensors. */
export function checkOutputs(command: string, path: string, result: unknown): Tensor[] {
  const outputs: unknown[] = Array.isArray(result) ? result : [result];
  if (outputs.length === 0 || !outputs.every(isTensor)) {
    throw new Error(`${command}: the function exported by '${path}' must return a Tensor or a non-empty array of Tensors, got ${describeResult(result)}`);
  }
  return outputs;
}

function threw(command: string, path: string, error: unknown): Error {
  return new Error(`${command}: the function exported by '${path}' threw ${describeError(error)}${locationIn(resolve(path), error)}`);
}

/** Calls the user's function, naming the file and the line when it throws. */
export function callUserFunction(command: string, path: string, build: UserFunction, options: BuildOptions): unknown {
  try {
    return build(options);
  } catch (error) {
    throw threw(command, path, error);
  }
}

/** Outputs from a user's module: its default export (or `build`) called with the sizes. */
export async function userOutputs(path: string, options: BuildOptions): Promise<Tensor[]> {
  const build = await loadUserFunction('draw', path);
  let result = callUserFunction('draw', path, build, options);
  try {
    // An async function rejects rather than throws.
    result = await settledOrStuck(result);
  } catch (error) {
    throw threw('draw', path, error);
  }
  if (result === NEVER_SETTLES) throw new Error(`draw: the function exported by '${path}' returned a promise that never settles (nothing was left for it to wait on)`);
  return checkOutputs('draw', path, result);
}
