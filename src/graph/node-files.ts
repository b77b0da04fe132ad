/*
 * Files that gradgraph reads from its dependencies in Node (the PNG rasteriser's WebAssembly,
 * the DejaVu Sans font), looked up only when first needed: a browser bundle and a bundled Node
 * application both import gradgraph without any file lookup, and only PNG output needs them.
 *
 * Node's modules are reached through `process.getBuiltinModule` (or an import whose name a
 * bundler cannot see), never a static `import 'node:fs'`, which a browser bundle would refuse.
 */

type ProcessLike = { versions?: { node?: string }; getBuiltinModule?: (name: string) => unknown };

/** Whether this is Node (not a browser page or worker). */
export function isNode(): boolean {
  const process = (globalThis as { process?: ProcessLike }).process;
  return typeof process?.versions?.node === 'string';
}

async function builtin<T>(name: string): Promise<T> {
  const process = (globalThis as { process?: ProcessLike }).process;
  const module = process?.getBuiltinModule?.(name);
  if (module !== undefined) return module as T;
  // Node 20 before 20.16 has no getBuiltinModule; a variable name keeps bundlers from following it.
  const specifier = name;
  return (await import(/* @vite-ignore */ specifier)) as T;
}

/**
 * The bytes of a file inside an installed package, for `caller` (named in the error): found
 * from gradgraph's own location, as `require.resolve` would find it.
 */
export async function readPackageFile(caller: string, specifier: string): Promise<Uint8Array> {
  const { createRequire } = await builtin<typeof import('node:module')>('node:module');
  const { readFileSync } = await builtin<typeof import('node:fs')>('node:fs');
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(specifier);
  } catch {
    throw new Error(`${caller}: cannot find ${specifier} from ${import.meta.url}; install its package beside gradgraph (a bundled application must ship node_modules/${specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')} too)`);
  }
  return readFileSync(path);
}
