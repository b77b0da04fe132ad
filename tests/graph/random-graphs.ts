import fc from 'fast-check';
import { tensor, withScope, type Tensor } from 'gradgraph';

/*
 * Random recorded graphs for property tests of what reads a trace: leaves of every role, binary
 * ops that broadcast, a tensor passed twice to one op (`x * x`), constants, reductions, module
 * scopes (nested, and repeated blocks), several outputs, and sometimes a backward pass.
 */

const OPS = ['add', 'mul', 'sub', 'neg', 'sum', 'square', 'addConstant'] as const;
const SCOPES: readonly (readonly string[])[] = [[], ['block1: Block'], ['block2: Block'], ['net: Net', 'bn: BatchNorm1d']];

export interface Recipe {
  readonly leaves: readonly { readonly scalar: boolean; readonly requiresGrad: boolean; readonly parameter: boolean; readonly named: boolean }[];
  readonly steps: readonly { readonly op: (typeof OPS)[number]; readonly a: number; readonly b: number; readonly scope: number }[];
  readonly outputs: readonly number[];
  readonly backward: boolean;
}

export const recipes: fc.Arbitrary<Recipe> = fc.record({
  leaves: fc.array(fc.record({ scalar: fc.boolean(), requiresGrad: fc.boolean(), parameter: fc.boolean(), named: fc.boolean() }), { minLength: 1, maxLength: 4 }),
  steps: fc.array(fc.record({ op: fc.constantFrom(...OPS), a: fc.nat(), b: fc.nat(), scope: fc.nat({ max: SCOPES.length - 1 }) }), { maxLength: 14 }),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  backward: fc.boolean(),
});

function inScope<T>(scope: readonly string[], fn: () => T): T {
  return scope.reduceRight<() => T>((inner, name) => () => withScope(name, inner), fn)();
}

/** The outputs the recipe computes (values are 1, 2, ...; leaves named `a`, `b`, ... when named). */
export function build(recipe: Recipe): Tensor[] {
  const tensors: Tensor[] = recipe.leaves.map((leaf, i) => tensor(leaf.scalar ? i + 1 : [i + 1, i + 2], {
    requiresGrad: leaf.requiresGrad || leaf.parameter,
    isParameter: leaf.parameter,
    ...(leaf.named ? { name: String.fromCharCode(97 + i) } : {}),
  }));
  for (const { op, a, b, scope } of recipe.steps) {
    const [x, y] = [tensors[a % tensors.length], tensors[b % tensors.length]];
    tensors.push(inScope(SCOPES[scope], () => {
      switch (op) {
        case 'add': return x.add(y);
        case 'mul': return x.mul(y);
        case 'sub': return x.sub(y);
        case 'neg': return x.neg();
        case 'sum': return x.sum();
        case 'square': return x.mul(x);
        case 'addConstant': return x.add(0.5);
      }
    }));
  }
  const outputs = recipe.outputs.map((i) => tensors[i % tensors.length]);
  const loss = outputs.map((t) => t.sum()).reduce((total, t) => total.add(t));
  if (recipe.backward && loss.requiresGrad) loss.backward(undefined, { retainGrads: true });
  return outputs;
}
