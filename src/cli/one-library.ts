import Module, { register } from 'node:module';
import * as library from '../index.js';

/*
 * A user's module loaded by the CLI must use the CLI's own copy of gradgraph. Without this it
 * gets a second copy, for two reasons: tsx's tsImport loads the module and everything it
 * imports under a fresh namespace (`?tsx-namespace=…` on each URL), so even the very file the
 * CLI runs from is evaluated again; and 'gradgraph' itself resolves through the user's
 * node_modules (or, in this repository, to dist/ while the CLI runs from src/). A second copy
 * has its own Tensor class, which fails the checker's `instanceof Tensor`, and its own grad mode
 * and scope, which the CLI's noGrad and withScope do not reach.
 *
 * So 'gradgraph' is mapped to the CLI's own entry, for ES modules by a resolve hook registered
 * after tsx's (the last one registered runs first, so tsx never adds its namespace to it), and
 * for CommonJS (`"type": "commonjs"`, what `npm init -y` writes) by answering require() with
 * the module the CLI has already loaded.
 */

/** The CLI's own entry: src/index.ts when run from the sources through tsx, dist/index.js when built. */
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? '../index.ts' : '../index.js', import.meta.url).href;

const HOOKS = `export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'gradgraph') return { url: ${JSON.stringify(ENTRY)}, shortCircuit: true };
  return nextResolve(specifier, context);
}`;

let importer: ((url: string) => Promise<unknown>) | null = null;

/** Imports a user's .ts/.js module so that its `import 'gradgraph'` is this very copy. */
export async function importUserModule(url: string): Promise<unknown> {
  if (importer === null) {
    const { register: registerTsx } = await import('tsx/esm/api');
    // A namespace of its own, as tsImport makes: tsx compiles the user's TypeScript however the CLI was started.
    const tsx = registerTsx({ namespace: `gradgraph-user-module-${process.pid}` });
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
    const modules = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = modules._load;
    modules._load = function loadGradgraphOnce(this: unknown, request: string, ...rest: unknown[]) {
      return request === 'gradgraph' ? library : load.call(this, request, ...rest);
    };
    importer = (target) => tsx.import(target, import.meta.url);
  }
  return importer(url);
}
