import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Linear, Module, ReLU, Sequential, Sigmoid, Tanh, randn, tensor, type Tensor } from 'gradgraph';
import { opsOf } from './helpers.js';

describe('Module', () => {
  it('finds parameters in field order, through children and arrays of children, each once', () => {
    const shared = new Linear(3, 3, { seed: 1 });
    const net = new Sequential([new Linear(2, 3, { seed: 0 }), new BatchNorm1d(3), new ReLU(), shared, shared]);
    const [first, bn] = net.layers as [Linear, BatchNorm1d];
    expect(net.parameters()).toEqual([first.weight, first.bias, bn.gamma, bn.beta, shared.weight, shared.bias]);
    expect(net.parameters().map((p) => p.name)).toEqual(['weight', 'bias', 'gamma', 'beta', 'weight', 'bias']);
    expect(net.parameters().every((p) => p.isParameter && p.requiresGrad)).toBe(true);
    // Buffers are state, not parameters.
    expect(net.parameters()).not.toContain(bn.runningMean);
  });

  it('zeroGrad clears every parameter gradient; train/eval reach every child', () => {
    const net = new Sequential([new Linear(2, 2, { seed: 0 }), new BatchNorm1d(2)]);
    net.call(randn([4, 2], { seed: 1 })).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    expect(net.eval().layers.every((layer) => !layer.training)).toBe(true);
    expect(net.train().layers.every((layer) => layer.training)).toBe(true);
  });

  it('records the ops of call() under nested scopes named after the modules', () => {
    const net = new Sequential([new Linear(2, 3, { seed: 0 }), new BatchNorm1d(3, { name: 'bn1' }), new Tanh(), new Linear(3, 1, { seed: 1 })], { name: 'mlp' });
    const x = randn([4, 2], { seed: 2 });
    const scopes = new Map<string, string[]>();
    for (const node of opsOf(net.call(x))) {
      const key = node.scope.join(' / ');
      scopes.set(key, [...(scopes.get(key) ?? []), node.label]);
    }
    expect([...scopes.keys()]).toEqual(['mlp / Linear 1', 'mlp / bn1', 'mlp / Tanh', 'mlp / Linear 2']);
    expect(scopes.get('mlp / bn1')).toEqual(['mean', 'subtract', 'variance', 'add ε', 'sqrt', 'divide', 'scale', 'shift']);
    expect(scopes.get('mlp / Linear 1')).toEqual(['@', '+']);
    // forward() itself records no scope: only call() does.
    expect(opsOf(net.layers[0].forward(x)).every((node) => node.scope.length === 0)).toBe(true);
  });

  it('rejects an empty name', () => {
    expect(() => new ReLU({ name: '' })).toThrow(/name must be a non-empty string/);
  });

  it('lets a subclass define forward and get parameters from its fields', () => {
    class Affine extends Module {
      readonly scale = tensor([2], { isParameter: true, name: 'scale' });
      constructor() {
        super('Affine');
      }
      forward(x: Tensor): Tensor {
        return x.mul(this.scale);
      }
    }
    const m = new Affine();
    expect(m.parameters()).toEqual([m.scale]);
    expect(m.call(tensor([1, 2])).toArray()).toEqual([2, 4]);
  });
});

describe('Linear', () => {
  it('computes x @ weight + bias with weight [in, out], initialized in ±1/√in, seeded', () => {
    const layer = new Linear(4, 3, { seed: 5 });
    expect(layer.weight.shape).toEqual([4, 3]);
    expect(layer.bias?.shape).toEqual([3]);
    expect([...layer.weight.data, ...layer.bias!.data].every((v) => Math.abs(v) <= 0.5)).toBe(true);
    expect(new Linear(4, 3, { seed: 5 }).weight.data).toEqual(layer.weight.data);
    expect(new Linear(4, 3, { seed: 6 }).weight.data).not.toEqual(layer.weight.data);
    const x = randn([2, 4], { seed: 1 });
    const y = layer.call(x);
    for (let n = 0; n < 2; n++) {
      for (let j = 0; j < 3; j++) {
        let expected = layer.bias!.data[j];
        for (let i = 0; i < 4; i++) expected += x.data[n * 4 + i] * layer.weight.data[i * 3 + j];
        expect(y.data[n * 3 + j]).toBeCloseTo(expected, 14);
      }
    }
    expect(new Linear(4, 3, { bias: false }).parameters()).toHaveLength(1);
  });

  it('names the expected input features when x does not fit', () => {
    expect(() => new Linear(4, 3).call(randn([2, 5]))).toThrow(/Linear: x has shape \[2, 5\] but this layer takes 4 input features.*\[N, 4\]/);
    expect(() => new Linear(0, 3)).toThrow(/inFeatures must be a positive integer, got 0/);
  });
});

describe('activations', () => {
  it('apply relu, sigmoid and tanh', () => {
    const x = tensor([-1, 0, 2]);
    expect(new ReLU().call(x).toArray()).toEqual([0, 0, 2]);
    expect(new Sigmoid().call(x).toArray()).toEqual([-1, 0, 2].map((v) => 1 / (1 + Math.exp(-v))));
    expect(new Tanh().call(x).toArray()).toEqual([-1, 0, 2].map(Math.tanh));
  });
});
