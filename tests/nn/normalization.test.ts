import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import 'gradgraph/vitest';
import { ADD_EPS_LABEL, batchNorm, groupNorm, instanceNorm, layerNorm, randn, rmsNorm, tensor, trace, type Tensor, type TensorNodeAttributes } from 'gradgraph';
import { casesNamed, expectMatchesPyTorch } from '../fixtures/nets-fixtures.js';
import { leaf } from '../helpers.js';
import { opsOf } from './helpers.js';

type Options = { normalizedShape?: number[]; numGroups?: number; eps?: number };
const epsOf = (o: Options) => (o.eps === undefined ? {} : { eps: o.eps });

describe('the normalization family matches PyTorch', () => {
  it.each(casesNamed('layerNorm').map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const o = c.options as Options;
    expectMatchesPyTorch(c, (x, g = null, b = null) => layerNorm(x!, o.normalizedShape!, g, b, epsOf(o)));
  });
  it.each(casesNamed('groupNorm').map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const o = c.options as Options;
    expectMatchesPyTorch(c, (x, g, b) => groupNorm(x!, o.numGroups!, g!, b!, epsOf(o)));
  });
  it.each(casesNamed('instanceNorm').map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectMatchesPyTorch(c, (x, g = null, b = null) => instanceNorm(x!, g, b));
  });
  it.each(casesNamed('rmsNorm').map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const o = c.options as Options;
    expectMatchesPyTorch(c, (x, g = null) => rmsNorm(x!, o.normalizedShape!, g, epsOf(o)));
  });
});

describe('they share BN\'s steps', () => {
  const x = randn([4, 6, 2, 3], { seed: 1, requiresGrad: true });
  const perChannel = randn([6], { seed: 2, requiresGrad: true });
  const labels = (y: Tensor) => opsOf(y).map((node) => node.label).filter((label) => label !== 'reshape');
  const centred = ['mean', 'subtract', 'variance', ADD_EPS_LABEL, 'sqrt', 'divide', 'scale', 'shift'];

  it('LayerNorm, GroupNorm and InstanceNorm take BN\'s eight steps, over other axes', () => {
    expect(labels(batchNorm(x, perChannel, perChannel))).toEqual(centred);
    expect(labels(layerNorm(x, [6, 2, 3], randn([6, 2, 3], { seed: 3 }), randn([6, 2, 3], { seed: 4 })))).toEqual(centred);
    expect(labels(groupNorm(x, 3, perChannel, perChannel))).toEqual(centred);
    expect(labels(instanceNorm(x, perChannel, perChannel))).toEqual(centred);
  });

  it('RMSNorm has no mean, subtract or shift: mean square, sqrt, divide, scale', () => {
    const y = rmsNorm(x, [3], randn([3], { seed: 5 }));
    expect(labels(y)).toEqual(['mean square', ADD_EPS_LABEL, 'sqrt', 'divide', 'scale']);
    expect(opsOf(y).map((node) => node.outputName)).toEqual(['mean(x²)', 'mean(x²) + ε', 'rms', 'x̂', 'γ·x̂']);
  });

  it('averages over the axes each one names (the μ node\'s shape says which)', () => {
    const muShape = (y: Tensor) => {
      const graph = trace(y);
      const mean = graph.findNode((_, attrs) => attrs.kind === 'op' && attrs.label === 'mean');
      return (graph.getNodeAttributes(graph.outNeighbors(mean!)[0]) as TensorNodeAttributes).shape;
    };
    expect(muShape(batchNorm(x, null, null))).toEqual([1, 6, 1, 1]);
    expect(muShape(layerNorm(x, [6, 2, 3]))).toEqual([4, 1, 1, 1]);
    expect(muShape(groupNorm(x, 3))).toEqual([4, 3, 1]);
    expect(muShape(instanceNorm(x))).toEqual([4, 6, 1, 1]);
  });
});

describe('gradients', () => {
  const arb = fc.record({ n: fc.integer({ min: 1, max: 3 }), groups: fc.integer({ min: 1, max: 2 }), perGroup: fc.integer({ min: 1, max: 2 }), spatial: fc.integer({ min: 2, max: 3 }), affine: fc.boolean(), seed: fc.integer() });
  const families: [string, (x: Tensor, g: Tensor | null, b: Tensor | null, groups: number) => Tensor][] = [
    ['layerNorm', (x, g, b) => layerNorm(x, x.shape.slice(1), g && g.reshape([x.shape[1], 1]).broadcastTo(x.shape.slice(1)), b && b.reshape([x.shape[1], 1]).broadcastTo(x.shape.slice(1)))],
    ['groupNorm', (x, g, b, groups) => groupNorm(x, groups, g, b)],
    ['instanceNorm', (x, g, b) => instanceNorm(x, g, b)],
    ['rmsNorm', (x, g) => rmsNorm(x, [x.shape[2]], g && g.sum().reshape([1]).broadcastTo([x.shape[2]]), { eps: 1e-5 })],
  ];
  it.each(families)('%s passes gradcheck and gradgradcheck over random shapes', (name, norm) => {
    fc.assert(fc.property(arb, ({ n, groups, perGroup, spatial, affine, seed }) => {
      const channels = groups * perGroup;
      const x = leaf([n, channels, spatial], seed, undefined, 'x');
      const gamma = leaf([channels], seed + 1, undefined, 'gamma');
      const beta = leaf([channels], seed + 2, undefined, 'beta');
      // RMSNorm has no shift: a beta it never reads would be (rightly) reported as unused.
      const takesBeta = name !== 'rmsNorm';
      const fn = affine ? (x: Tensor, g: Tensor, b?: Tensor) => norm(x, g, b ?? null, groups) : (x: Tensor) => norm(x, null, null, groups);
      const inputs = affine ? (takesBeta ? [x, gamma, beta] : [x, gamma]) : [x];
      expect(fn).toPassGradcheck(inputs);
      expect(fn).toPassGradgradcheck(inputs, { atol: 1e-4 });
    }), { numRuns: 8 });
  });
});

describe('argument errors name the function and what it got', () => {
  const x = randn([2, 4, 3]);
  it.each([
    [() => layerNorm(x, [4]), 'layerNorm: normalizedShape [4] must match the last axes of x, but x has shape [2, 4, 3]'],
    [() => layerNorm(x, [3], randn([4])), 'layerNorm: gamma must have shape [3] (normalizedShape) or be null, got [4]'],
    [() => layerNorm(x, 3, null, null, { eqs: 1 } as never), "layerNorm: unknown option 'eqs'; did you mean 'eps'?"],
    [() => groupNorm(x, 3), 'groupNorm: numGroups must be a positive integer dividing the 4 channels of x (shape [2, 4, 3]), got 3'],
    [() => groupNorm(x, 2, randn([3])), 'groupNorm: gamma has shape [3] but must have shape [4]'],
    [() => instanceNorm(randn([2, 4])), 'instanceNorm: x must have shape [N, C, ...] with at least one spatial axis, got [2, 4]'],
    [() => rmsNorm(x, [3], null, { eps: -1 }), 'rmsNorm: eps must be a finite number >= 0, got -1'],
  ])('%#', (call, message) => {
    expect(call).toThrow(message);
  });

  it('a constant row stays finite thanks to eps', () => {
    expect(Array.from(layerNorm(tensor([[2, 2, 2]]), 3).data)).toEqual([0, 0, 0]);
  });
});
