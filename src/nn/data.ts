import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions, describeValue, expectFiniteNumber, expectInteger } from '../validate.js';

export interface Dataset {
  /** Inputs, one example a row: [n, features]. */
  readonly x: Tensor;
  /** Targets, one a row: [n, 1]. */
  readonly y: Tensor;
}

/**
 * Two interleaving half circles (scikit-learn's make_moons): label 0 on the upper moon, 1 on the
 * lower, with Gaussian noise of standard deviation `noise`, shuffled. Seeded: same data everywhere.
 */
export function twoMoons(options: { n: number; noise?: number; seed?: number }): Dataset {
  const { n, noise = 0.1, seed = 0 } = checkOptions('twoMoons', options, ['n', 'noise', 'seed']);
  expectFiniteNumber('twoMoons', 'noise', noise, { min: 0 });
  if (!Number.isInteger(n) || n < 2) throw new Error(`twoMoons: n must be an integer >= 2, got ${describeValue(n)}`);
  const random = new Random(seed, 'twoMoons');
  const outer = Math.ceil(n / 2);
  const points: [number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const upper = i < outer;
    const count = upper ? outer : n - outer;
    const t = (Math.PI * (upper ? i : i - outer)) / Math.max(1, count - 1);
    const [px, py] = upper ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    points.push([px + noise * random.normal(), py + noise * random.normal(), upper ? 0 : 1]);
  }
  shuffle(points, random);
  return {
    x: new Tensor(Float64Array.from(points.flatMap(([px, py]) => [px, py])), [n, 2], { name: 'x' }),
    y: new Tensor(Float64Array.from(points.map(([, , label]) => label)), [n, 1], { name: 'y' }),
  };
}

function shuffle<T>(items: T[], random: Random): void {
  // Fisher-Yates.
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** The rows `indices` of a tensor, copied into a new leaf. */
function takeRows(t: Tensor, indices: readonly number[]): Tensor {
  const row = t.size / t.shape[0];
  const data = new Float64Array(indices.length * row);
  indices.forEach((index, i) => data.set(t.storage.subarray(index * row, (index + 1) * row), i * row));
  return new Tensor(data, [indices.length, ...t.shape.slice(1)], { name: t.name });
}

/**
 * The dataset in shuffled mini-batches of `batchSize` (one epoch). A last batch smaller than
 * `minLast` (default 2: batch norm needs two values per feature) is dropped.
 */
export function miniBatches(data: Dataset, batchSize: number, options: { seed: number; minLast?: number }): Dataset[] {
  if (typeof data !== 'object' || data === null || !(data.x instanceof Tensor) || !(data.y instanceof Tensor)) {
    throw new Error(`miniBatches: data must be a Dataset { x, y } of Tensors, got ${describeValue(data)}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`miniBatches: batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  if (options === undefined) throw new Error('miniBatches: options { seed } are required, got undefined');
  checkOptions('miniBatches', options, ['seed', 'minLast']);
  if (options.minLast !== undefined) expectInteger('miniBatches', 'minLast', options.minLast, { min: 1 });
  const order = Array.from({ length: data.x.shape[0] }, (_, i) => i);
  shuffle(order, new Random(options.seed, 'miniBatches'));
  const batches: Dataset[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    if (indices.length < (options.minLast ?? 2)) break;
    batches.push({ x: takeRows(data.x, indices), y: takeRows(data.y, indices) });
  }
  return batches;
}
