import { describe, expect, it } from 'vitest';
import { BatchNorm1d, BatchNorm2d, Conv2d, Linear, Module, ReLU, Sequential, randn, type Tensor } from 'gradgraph';

class Net extends Module {
  readonly conv = new Conv2d(1, 2, 3, { seed: 1 });
  readonly bn = new BatchNorm2d(2);
  readonly blocks = [new Linear(2, 3, { seed: 2 }), new ReLU()];

  constructor() {
    super('Net');
  }

  forward(x: Tensor): Tensor {
    return this.bn.call(this.conv.call(x));
  }
}

describe('namedParameters and namedBuffers', () => {
  it('give dotted paths from field names, array fields by index', () => {
    const net = new Net();
    expect(net.namedParameters().map(([path]) => path)).toEqual(['conv.weight', 'conv.bias', 'bn.gamma', 'bn.beta', 'blocks.0.weight', 'blocks.0.bias']);
    expect(net.namedBuffers().map(([path]) => path)).toEqual(['bn.runningMean', 'bn.runningVar', 'bn.numBatchesTracked']);
    expect(net.namedParameters()[0][1]).toBe(net.conv.weight);
  });

  it('name a Sequential\'s layers by position, as PyTorch does, and list a shared layer once', () => {
    const shared = new Linear(2, 2, { seed: 0 });
    const net = new Sequential([shared, new BatchNorm1d(2), shared]);
    expect(net.namedParameters().map(([path]) => path)).toEqual(['0.weight', '0.bias', '1.gamma', '1.beta']);
  });
});

describe('stateDict and loadStateDict', () => {
  it('round-trip a trained model through JSON, running statistics included', () => {
    const trained = new Net();
    trained.call(randn([4, 1, 5, 5], { seed: 3 }));
    const json = JSON.stringify(trained.stateDict());
    const fresh = new Net();
    fresh.blocks[0] = new Linear(2, 3, { seed: 99 });
    fresh.loadStateDict(JSON.parse(json));
    for (const [[path, a], [, b]] of trained.namedParameters().map((entry, i) => [entry, fresh.namedParameters()[i]] as const)) {
      expect(Array.from(b.data), path).toEqual(Array.from(a.data));
    }
    expect(Array.from(fresh.bn.runningMean.data)).toEqual(Array.from(trained.bn.runningMean.data));
    expect(fresh.bn.numBatchesTracked.item()).toBe(1);
    const x = randn([2, 1, 5, 5], { seed: 4 });
    expect(Array.from(fresh.eval().call(x).data)).toEqual(Array.from(trained.eval().call(x).data));
  });

  it('is plain JSON: { shape, data } per path', () => {
    const state = new BatchNorm1d(2).stateDict();
    expect(state).toEqual({
      gamma: { shape: [2], data: [1, 1] },
      beta: { shape: [2], data: [0, 0] },
      runningMean: { shape: [2], data: [0, 0] },
      runningVar: { shape: [2], data: [1, 1] },
      numBatchesTracked: { shape: [], data: [0] },
    });
  });

  it('refuses missing and unexpected keys and wrong shapes, naming them, and changes nothing', () => {
    const net = new Net();
    const before = JSON.stringify(net.stateDict());
    const { ['bn.runningVar']: _dropped, ...missing } = net.stateDict();
    const withMissing = { ...missing, 'conv.weight': { shape: [2, 1, 3, 3], data: new Array(18).fill(7) } };
    expect(() => net.loadStateDict(withMissing)).toThrow("Net.loadStateDict: missing key(s) 'bn.runningVar'");
    expect(() => net.loadStateDict({ ...net.stateDict(), 'fc.weight': { shape: [1], data: [0] } })).toThrow("unexpected key(s) 'fc.weight'");
    expect(() => net.loadStateDict({ ...net.stateDict(), 'bn.gamma': { shape: [3], data: [1, 1, 1] } })).toThrow("Net.loadStateDict: 'bn.gamma' has shape [3] in the state dict but [2] in the module");
    expect(JSON.stringify(net.stateDict())).toBe(before);
    net.loadStateDict(withMissing, { strict: false });
    expect(net.conv.weight.data[0]).toBe(7);
  });
});
