/*
 * The standing guard of issue 9: every public function, given random operands and options
 * (right and wrong types alike), either returns or throws an Error whose message starts with
 * its own name. A raw TypeError or RangeError from inside ("axes.map is not a function") tells
 * the user nothing they can act on. The list of functions is read from the exports, so a new
 * export is covered the day it lands unless it is added to SKIPPED below with a reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as api from 'gradgraph';
import { Module, Tensor, tensor } from 'gradgraph';

/** Exports that are not functions of tensors, or that the guard cannot call safely. */
const SKIPPED: Readonly<Record<string, string>> = {
  // Async and spawn Graphviz or a browser bundle: slow, and covered by tests/graph/render and explorer.
  render: 'async, runs Graphviz',
  renderSvg: 'async, runs Graphviz',
  svgToPng: 'async, rasterizes',
  toHtml: 'async, runs Graphviz',
  // Change process-wide state the other test files rely on.
  setMaxAllocationBytes: 'global setting',
  // Abstract bases and error classes, not functions of tensors.
  Module: 'abstract base class',
  Optimizer: 'abstract base class',
  GraphNode: 'internal record built by ops',
  GraphvizError: 'an error class',
  // Helpers over strings and the records trace() and checkRecordedOps make, not functions of tensors.
  quote: 'escapes a DOT string',
  broadcastShapes: 'its first argument is the name its errors carry',
  gradientName: 'names a trace node',
  localGradients: 'reads a trace node',
  culprits: 'reads checkRecordedOps records',
  describeCulprit: 'reads checkRecordedOps records',
  formatOpChecks: 'reads checkRecordedOps records',
};

/** Functions whose errors may rightly come from a named step they hand the work to. */
const DELEGATES: Readonly<Record<string, readonly string[]>> = {
  // toDot traces its source first: "trace: no outputs to trace" is about toDot's own argument.
  toDot: ['trace'],
  // A module's errors about its input come from the op it applies, which names itself.
  BatchNorm1d: ['batchNorm', 'batchNormFused', 'batchNormInference'],
  BatchNorm2d: ['batchNorm', 'batchNormFused', 'batchNormInference'],
};

const isClass = (f: unknown): boolean => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

const callables = Object.entries(api)
  .filter(([name, value]) => typeof value === 'function' && !(name in SKIPPED))
  .map(([name, value]) => ({ name, value: value as (...args: unknown[]) => unknown, isClass: isClass(value) }));

const OPTION_KEYS = [
  'axis', 'keepdims', 'eps', 'momentum', 'seed', 'requiresGrad', 'name', 'training', 'reduction', 'stride',
  'padding', 'dilation', 'groups', 'bias', 'affine', 'title', 'direction', 'values', 'dims', 'lr', 'n',
  'createGraph', 'retainGrads', 'allowUnused', 'gradOutputs', 'atol', 'rtol', 'unbiased', 'kernelSize',
  'min', 'max', 'dim', 'minLast', 'noise', 'correction', 'legend', 'weightDecay', 'betas', 'wrongKey',
];

const shapes = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 4 });
const tensors = fc.tuple(shapes, fc.boolean(), fc.integer({ min: 0, max: 1000 })).map(([shape, requiresGrad, seed]) => {
  const t = api.randn(shape, { seed, requiresGrad });
  return requiresGrad && shape.length > 0 && seed % 2 === 0 ? t.mul(2) : t;
});
const numbers = fc.constantFrom(0, 1, 2, 3, -1, 0.5, 1e-5, Number.NaN, Number.POSITIVE_INFINITY, -0);
const wrong = fc.constantFrom<unknown>('1', '', null, undefined, {}, [], [1, 'a'], Number.NaN, () => 1, true, Symbol('s'), 10n, new Map());
const small = fc.oneof(numbers, wrong, fc.array(fc.integer({ min: -2, max: 3 }), { maxLength: 3 }));
const options = fc.dictionary(fc.constantFrom(...OPTION_KEYS), fc.oneof(small, tensors), { maxKeys: 3 });
const functions = fc.constantFrom<unknown>((a: unknown) => (a instanceof Tensor ? a.sum() : a), (a: unknown) => a, () => 'x', () => { throw new Error('user: inside'); });
const argument = fc.oneof({ weight: 4, arbitrary: tensors }, { weight: 3, arbitrary: small }, { weight: 2, arbitrary: options },
  { weight: 1, arbitrary: fc.array(tensors, { maxLength: 3 }) }, { weight: 1, arbitrary: functions });
const argumentLists = fc.array(argument, { maxLength: 4 });

function describeArgs(args: readonly unknown[]): string {
  return args.map((a) => (a instanceof Tensor ? `Tensor[${a.shape.join(',')}]` : typeof a === 'function' ? 'fn' : typeof a === 'symbol' || typeof a === 'bigint' ? String(a) : JSON.stringify(a) ?? 'undefined')).join(', ');
}

/** Runs a call; a returned promise must settle (rejecting like a throw), a thrown error must be named. */
function expectNamed(names: readonly string[], call: () => unknown, args: readonly unknown[]): unknown {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    const ok = error instanceof Error && error.constructor === Error
      // Case-insensitive: a module's errors may come from its op (Softmax from softmax).
      && names.some((name) => error.message.toLowerCase().startsWith(`${name.toLowerCase()}:`))
      || (error instanceof Error && error.message === 'user: inside');
    if (!ok) {
      throw new Error(`${names[0]}(${describeArgs(args)}) threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    }
    return undefined;
  }
  return result;
}

describe('the public API names itself in every error', () => {
  it('covers the exports it means to', () => {
    const names = callables.map((c) => c.name);
    for (const expected of ['sum', 'transpose', 'grad', 'backward', 'gradcheck', 'toDot', 'trace', 'conv2d', 'maxPool2d', 'batchNorm', 'layerNorm', 'crossEntropy', 'Linear', 'BatchNorm1d', 'Conv2d', 'SGD', 'randn', 'tensor']) {
      expect(names).toContain(expected);
    }
  });

  it('functions and constructors: return, or throw an Error that starts with their name', () => {
    fc.assert(fc.property(fc.constantFrom(...callables), argumentLists, ({ name, value, isClass: construct }, args) => {
      const names = [name, ...(Object.hasOwn(DELEGATES, name) ? DELEGATES[name] : [])];
      const result = expectNamed(names, () => (construct ? Reflect.construct(value, args) : value(...args)), args);
      if (result instanceof Promise) result.catch(() => undefined);
      // A module the constructor accepted is also called on a random operand.
      if (result instanceof Module) {
        const moduleName = result.constructor.name;
        for (const input of args.filter((a) => a instanceof Tensor).concat([tensor([[1, 2], [3, 4]])])) {
          expectNamed([moduleName, ...(Object.hasOwn(DELEGATES, moduleName) ? DELEGATES[moduleName] : [])], () => result.call(input as Tensor), [input]);
        }
      }
    }), { numRuns: 3000, seed: 9 });
  });

  /* Valid modules, so call() is exercised often and not only when random arguments happen to build one. */
  const modules: readonly (() => Module)[] = [
    () => new api.Linear(2, 3, { seed: 0 }), () => new api.BatchNorm1d(2), () => new api.BatchNorm2d(2),
    () => new api.Conv2d(1, 2, 1, { seed: 0 }), () => new api.MaxPool2d(2), () => new api.AvgPool2d(1),
    () => new api.LayerNorm(2), () => new api.GroupNorm(1, 2), () => new api.Dropout(0.5, { seed: 0 }),
    () => new api.ReLU(), () => new api.Sigmoid(), () => new api.Tanh(), () => new api.Flatten(),
    () => new api.Softmax(-1), () => new api.LogSoftmax(0), () => new api.Sequential([new api.Linear(2, 2, { seed: 0 }), new api.ReLU()]),
  ];

  it('modules: call() returns, or throws an Error that starts with the module or its op', () => {
    fc.assert(fc.property(fc.constantFrom(...modules), fc.oneof(tensors, small), fc.boolean(), (build, input, training) => {
      const module = build();
      module.train(training);
      // A container's errors come from the layer that refused the input, which names itself.
      const own = module.constructor.name;
      const names = [own, module.name, ...(Object.hasOwn(DELEGATES, own) ? DELEGATES[own] : []), ...[...module.children()].map((child) => child.constructor.name)];
      expectNamed(names, () => module.call(input as Tensor), [input]);
    }), { numRuns: 600, seed: 21 });
  });

  const methods = Object.getOwnPropertyNames(Tensor.prototype)
    .filter((m) => m !== 'constructor' && typeof Object.getOwnPropertyDescriptor(Tensor.prototype, m)?.value === 'function');

  it('tensor methods: return, or throw an Error that starts with the op name', () => {
    fc.assert(fc.property(tensors, fc.constantFrom(...methods), argumentLists, (self, method, args) => {
      const names = [method, ...(Object.hasOwn(DELEGATES, method) ? DELEGATES[method] : [])];
      expectNamed(names, () => (self as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args), args);
    }), { numRuns: 2000, seed: 15 });
  });
});
