import type { GraphNode } from '../autograd/op.js';
import * as ops from '../ops/index.js';
import { backward, type BackwardOptions } from '../autograd/engine.js';
import { handOut, shareBuffer } from '../autograd/saved.js';
import { allocate, openTidy, POOL_MIN_VALUES } from './allocation.js';
import { Random } from './random.js';
import { assertValidShape, formatShape, sizeOf, type Shape } from './shape.js';
import { checkOptions, describeValue } from '../validate.js';

/** Anything an op accepts as an operand: plain numbers become constant scalars. */
export type TensorLike = Tensor | number;
/** Nested arrays of numbers, as `tensor([[1, 2], [3, 4]])` takes them. */
export type NestedArray = number | readonly NestedArray[];

export interface TensorOptions extends FactoryOptions {
  /** Required when `values` is a flat `Float64Array` or array that is not 1-D. */
  shape?: Shape;
}

type Axis = number | readonly number[];

/** `[[1,NaN],[Infinity,-0]]`: JSON's layout, but every number as itself (JSON writes null for NaN and ±Infinity). */
function formatNested(values: NestedArray): string {
  if (typeof values === 'number') return Object.is(values, -0) ? '-0' : String(values);
  return `[${values.map(formatNested).join(',')}]`;
}

const REQUIRES_GRAD = 1;
const RETAINS_GRAD = 2;
const IS_PARAMETER = 4;
const IS_BUFFER = 8;
const SAVED_BY_NODE = 16;
const KEPT = 32;
const HELD_AS_GRAD = 64;

/** The bit saying a tensor's name is in `names`; above it, the number of an interned name. */
const NAME_IN_MAP = 128;
const NAME_SHIFT = 8;
const FLAG_BITS = (1 << NAME_SHIFT) - 1;

/**
 * Tensor names, off the tensor: a field on each would cost the unnamed many 8 bytes apiece (a
 * long chain's memory). Most names are a few used again and again (BN names μ, σ², x̂ on every
 * step), so the first MAX_INTERNED_NAMES strings get a number, kept in the tensor's flags: no
 * WeakMap entry to write per tensor, none for the collector to sweep (a WeakMap entry cost a
 * small op ~8% of its time). Other names, and names past that many, live in the WeakMap.
 */
const MAX_INTERNED_NAMES = 4095;
const internedNames: string[] = [''];
const nameNumbers = new Map<string, number>();
const names = new WeakMap<Tensor, string>();

/** The number of an interned name, interning it while there is room; 0 when there is none. */
function nameNumber(name: string): number {
  let number = nameNumbers.get(name);
  if (number === undefined) {
    if (internedNames.length > MAX_INTERNED_NAMES) return 0;
    number = internedNames.length;
    internedNames.push(name);
    nameNumbers.set(name, number);
  }
  return number;
}

function withFlag(flags: number, flag: number, value: boolean): number {
  return value ? flags | flag : flags & ~flag;
}

/** The values of every released tensor: none. */
const RELEASED = new Float64Array(0);

function releasedMessage(t: Tensor): string {
  const which = t.name === undefined ? 'a tensor' : `tensor '${t.name}'`;
  const made = t.node === null ? '' : ` (made by op '${t.node.op.name}')`;
  return `${which} of shape ${formatShape(t.shape)}${made} was released when the tidy() that made it ended; ` +
    'return it from that tidy() (or from a function it calls) or keep() it to use it afterwards';
}

/** An N-d float64 tensor that records the ops applied to it when it requires grad. */
export class Tensor {
  /** Gradient accumulated by `backward()`; null until then, reset by `zeroGrad()`. */
  grad: Tensor | null = null;
  /** What produced this tensor; null for leaves and for results computed without recording. */
  node: GraphNode | null = null;
  /** The name pictures and error messages use; most tensors (a chain's intermediates) have none. */
  get name(): string | undefined {
    const number = this.flags >>> NAME_SHIFT;
    if (number !== 0) return internedNames[number];
    return (this.flags & NAME_IN_MAP) === 0 ? undefined : names.get(this);
  }
  set name(value: string | undefined) {
    if ((this.flags & NAME_IN_MAP) !== 0) names.delete(this);
    this.flags &= FLAG_BITS & ~NAME_IN_MAP;
    if (value === undefined) return;
    const number = typeof value === 'string' ? nameNumber(value) : 0;
    if (number !== 0) {
      this.flags |= number << NAME_SHIFT;
    } else {
      names.set(this, value);
      this.flags |= NAME_IN_MAP;
    }
  }
  /**
   * The seven yes/no properties below in one small integer: a long chain holds two tensors per
   * op, and seven fields of their own would cost each 56 bytes (issue #12's chain memory target).
   * Above them, where the name is (see `name`).
   */
  private flags = 0;

  /** Whether ops on this tensor are recorded so gradients can flow back to it. */
  get requiresGrad(): boolean { return (this.flags & REQUIRES_GRAD) !== 0; }
  set requiresGrad(value: boolean) { this.flags = withFlag(this.flags, REQUIRES_GRAD, value); }
  /** Set by `retainGrad()`: `backward()` also fills `.grad` of this non-leaf tensor. */
  get retainsGrad(): boolean { return (this.flags & RETAINS_GRAD) !== 0; }
  set retainsGrad(value: boolean) { this.flags = withFlag(this.flags, RETAINS_GRAD, value); }
  /** A learned parameter (gamma, beta, a weight), drawn differently from data in pictures. */
  get isParameter(): boolean { return (this.flags & IS_PARAMETER) !== 0; }
  set isParameter(value: boolean) { this.flags = withFlag(this.flags, IS_PARAMETER, value); }
  /** A module's state that is not learned (BN's running statistics), drawn inside its module's box. */
  get isBuffer(): boolean { return (this.flags & IS_BUFFER) !== 0; }
  set isBuffer(value: boolean) { this.flags = withFlag(this.flags, IS_BUFFER, value); }
  /** Set when a recorded op saves this tensor (as an input or its output): see `data`. */
  get savedByNode(): boolean { return (this.flags & SAVED_BY_NODE) !== 0; }
  set savedByNode(value: boolean) { this.flags = withFlag(this.flags, SAVED_BY_NODE, value); }
  /** Set by `keep()`: no `tidy()` releases this tensor. */
  get isKept(): boolean { return (this.flags & KEPT) !== 0; }
  set isKept(value: boolean) { this.flags = withFlag(this.flags, KEPT, value); }
  /** Set when backward stores this tensor in some tensor's `.grad`: `tidy()` keeps it (see tidy.ts). */
  get heldAsGrad(): boolean { return (this.flags & HELD_AS_GRAD) !== 0; }
  set heldAsGrad(value: boolean) { this.flags = withFlag(this.flags, HELD_AS_GRAD, value); }

  /** The values; RELEASED once the tidy() that made this tensor has given them back (tidy.ts). */
  private values: Float64Array;

  /**
   * Wraps `storage` without copying; use `tensor()` to build one from user values. Writes to
   * an array passed here are not tracked (see `data`).
   */
  constructor(
    storage: Float64Array,
    readonly shape: Shape,
    options?: { requiresGrad?: boolean; name?: string | undefined; isParameter?: boolean; isBuffer?: boolean },
  ) {
    if (!(storage instanceof Float64Array)) throw new Error(`Tensor: storage must be a Float64Array (tensor() takes arrays), got ${describeValue(storage)}`);
    assertValidShape('Tensor', shape);
    if (storage.length !== sizeOf(shape)) {
      throw new Error(`Tensor: data has ${storage.length} element(s) but shape ${formatShape(shape)} needs ${sizeOf(shape)}`);
    }
    this.values = storage;
    if (openTidy !== null && storage.length >= POOL_MIN_VALUES) openTidy.tensors.push(this);
    // Every op's result comes through here without options: its flags stay 0, no object is made.
    if (options === undefined) return;
    this.isParameter = options.isParameter ?? false;
    this.isBuffer = options.isBuffer ?? false;
    this.requiresGrad = options.requiresGrad ?? this.isParameter;
    if (options.name !== undefined) this.name = options.name;
  }

  /**
   * The values, row-major, as the kernels read them. Writing here is not tracked: it is the
   * escape hatch PyTorch's `.data` is. Read and write through `data` instead. A tensor that a
   * tidy() released has none: reading them throws, naming the tensor.
   */
  get storage(): Float64Array {
    const values = this.values;
    if (values === RELEASED) throw new Error(releasedMessage(this));
    return values;
  }

  /** True once the tidy() that made this tensor has ended without keeping it (see `tidy`). */
  get isReleased(): boolean {
    return this.values === RELEASED;
  }

  /** For tidy() alone: this tensor is dead, its values go back to the pool. */
  markReleased(): void {
    this.values = RELEASED;
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float64Array.of(value), []);
  }

  /**
   * The values, row-major, writable in place. Writes are tracked: if an op recorded this tensor
   * (or a tensor sharing its values, such as its detach()) before the values changed, backward()
   * refuses, naming the tensor and the op, instead of computing gradients from the new values.
   * The first `.data` of a buffer an op has saved copies it, and so does every op that records
   * it afterwards (src/autograd/saved.ts); `item()` and `toArray()` hand nothing out.
   */
  get data(): Float64Array {
    return handOut(this.storage, this.savedByNode);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    const values = this.values;
    return values === RELEASED ? sizeOf(this.shape) : values.length;
  }

  /** True for tensors the user created, as opposed to results of recorded ops. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  item(): number {
    if (this.storage.length !== 1) throw new Error(`item: only a tensor with one element has an item, this one has shape ${formatShape(this.shape)}`);
    return this.storage[0];
  }

  /** Nested arrays mirroring the shape (a number for a scalar). */
  toArray(): NestedArray {
    const build = (axis: number, offset: number, stride: number): NestedArray => {
      if (axis === this.shape.length) return this.storage[offset];
      const inner = stride / this.shape[axis];
      return Array.from({ length: this.shape[axis] }, (_, i) => build(axis + 1, offset + i * inner, inner));
    };
    return build(0, 0, this.storage.length);
  }

  toString(): string {
    const parts = [`shape=${formatShape(this.shape)}`];
    if (this.name !== undefined) parts.unshift(`name=${JSON.stringify(this.name)}`);
    if (this.node) parts.push(`op=${this.node.op.name}`);
    if (this.requiresGrad) parts.push('requiresGrad');
    const values = this.isReleased ? 'released by tidy()' : this.size <= 24 ? formatNested(this.toArray()) : `${this.size} values`;
    return `Tensor(${values}, ${parts.join(', ')})`;
  }

  /** The same values, cut off from the graph. Shares data: kernels never write their inputs. */
  detach(): Tensor {
    return new Tensor(shareBuffer(this.storage), this.shape, { name: this.name });
  }

  /** Sets the label pictures show on the op that produced this tensor (BN names its steps). */
  withLabel(label: string): this {
    if (!this.node) throw new Error(`withLabel: ${this.name === undefined ? 'this tensor' : `tensor '${this.name}'`} is a leaf or was not recorded; give it a name instead`);
    this.node.label = label;
    return this;
  }

  /** Makes `backward()` fill `.grad` of this non-leaf tensor too, like PyTorch's `retain_grad()`. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  backward(gradOutput?: TensorLike, options?: BackwardOptions): void {
    backward(this, gradOutput, options);
  }

  zeroGrad(): void {
    this.grad = null;
  }

  add(other: TensorLike): Tensor { return ops.add(this, other); }
  sub(other: TensorLike): Tensor { return ops.sub(this, other); }
  mul(other: TensorLike): Tensor { return ops.mul(this, other); }
  div(other: TensorLike): Tensor { return ops.div(this, other); }
  pow(exponent: TensorLike): Tensor { return ops.pow(this, exponent); }
  neg(): Tensor { return ops.neg(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  abs(): Tensor { return ops.abs(this); }
  square(): Tensor { return ops.square(this); }
  relu(): Tensor { return ops.relu(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  softplus(): Tensor { return ops.softplus(this); }
  sign(): Tensor { return ops.sign(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  log1p(): Tensor { return ops.log1p(this); }
  expm1(): Tensor { return ops.expm1(this); }
  reciprocal(): Tensor { return ops.reciprocal(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  erf(): Tensor { return ops.erf(this); }
  clamp(min: number | null, max: number | null = null): Tensor { return ops.clamp(this, min, max); }
  minimum(other: TensorLike): Tensor { return ops.minimum(this, other); }
  maximum(other: TensorLike): Tensor { return ops.maximum(this, other); }
  /** PyTorch's `x.where(condition, other)`: this where condition is 1, other where it is 0. */
  where(condition: Tensor, other: TensorLike): Tensor { return ops.where(condition, this, other); }
  sum(axis?: Axis, options?: ops.ReduceOptions): Tensor { return ops.sum(this, axis, options); }
  mean(axis?: Axis, options?: ops.ReduceOptions): Tensor { return ops.mean(this, axis, options); }
  max(axis?: Axis, options?: ops.ReduceOptions): Tensor { return ops.max(this, axis, options); }
  min(axis?: Axis, options?: ops.ReduceOptions): Tensor { return ops.min(this, axis, options); }
  argmax(axis?: number, options?: ops.ReduceOptions): Tensor { return ops.argmax(this, axis, options); }
  argmin(axis?: number, options?: ops.ReduceOptions): Tensor { return ops.argmin(this, axis, options); }
  variance(axis?: Axis, options?: ops.VarianceOptions): Tensor { return ops.variance(this, axis, options); }
  std(axis?: Axis, options?: ops.VarianceOptions): Tensor { return ops.std(this, axis, options); }
  logsumexp(axis?: Axis, options?: ops.ReduceOptions): Tensor { return ops.logsumexp(this, axis, options); }
  softmax(axis: number): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis: number): Tensor { return ops.logSoftmax(this, axis); }
  matmul(other: TensorLike): Tensor { return ops.matmul(this, other); }
  dot(other: TensorLike): Tensor { return ops.dot(this, other); }
  /** PyTorch's `transpose(axis0, axis1)` swaps two axes; NumPy's `transpose(axes)` permutes; no argument reverses them. */
  transpose(axis0?: number | readonly number[], axis1?: number): Tensor { return ops.transpose(this, axis0, axis1); }
  get T(): Tensor { return ops.transpose(this); }
  permute(axes: readonly number[]): Tensor { return ops.permute(this, axes); }
  reshape(shape: Shape): Tensor { return ops.reshape(this, shape); }
  squeeze(axis?: Axis): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  flatten(startAxis?: number, endAxis?: number): Tensor { return ops.flatten(this, startAxis, endAxis); }
  split(sizes: number | readonly number[], axis?: number): Tensor[] { return ops.split(this, sizes, axis); }
  narrow(axis: number, start: number, length: number): Tensor { return ops.narrow(this, axis, start, length); }
  gather(axis: number, index: Tensor): Tensor { return ops.gather(this, axis, index); }
  clone(): Tensor { return ops.clone(this); }
  broadcastTo(shape: Shape): Tensor { return ops.broadcastTo(this, shape); }
}

function flatten(values: NestedArray, op: string): { data: Float64Array; shape: number[] } {
  const shape: number[] = [];
  for (let level: NestedArray = values; Array.isArray(level); level = level[0] as NestedArray) {
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const data = allocate(op, shape);
  let offset = 0;
  const walk = (value: NestedArray, depth: number, path: number[]) => {
    if (depth === shape.length) {
      if (typeof value !== 'number') {
        throw new Error(`${op}: expected a number at ${formatShape(path)}, got ${Array.isArray(value) ? 'an array (ragged nesting)' : typeof value}`);
      }
      data[offset++] = value;
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[depth]) {
      const got = Array.isArray(value) ? `length ${value.length}` : typeof value;
      throw new Error(`${op}: ragged nested array: expected length ${shape[depth]} at ${formatShape(path)} (like the first row), got ${got}`);
    }
    // A plain loop, not forEach, which skips holes: [1, , 3] would silently become [1, 3, 0].
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new Error(`${op}: the nested array has a hole (no element) at ${formatShape([...path, i])}; write a number there`);
      walk(value[i] as NestedArray, depth + 1, [...path, i]);
    }
  };
  walk(values, 0, []);
  return { data, shape };
}

/**
 * A tensor from a number, nested arrays, or flat values with a `shape`.
 * Always copies, so later changes to `values` do not reach the tensor.
 */
/** validate.ts's expect* for tensors; it lives here because validate.ts cannot import Tensor (an import cycle). */
export function expectTensor(fn: string, argument: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw new Error(`${fn}: ${argument} must be a Tensor, got ${describeValue(value)}`);
  return value;
}

export function tensor(values: NestedArray | Float64Array | readonly number[], options: TensorOptions = {}): Tensor {
  const { shape } = checkOptions('tensor', options, ['shape', ...FACTORY_OPTIONS]);
  if (shape !== undefined) assertValidShape('tensor', shape);
  let data: Float64Array;
  let inferred: Shape;
  if (values instanceof Float64Array) {
    data = Float64Array.from(values);
    inferred = [values.length];
  } else if (typeof values === 'number' || Array.isArray(values)) {
    ({ data, shape: inferred } = flatten(values as NestedArray, 'tensor'));
  } else {
    throw new Error(`tensor: values must be a number, nested arrays of numbers or a Float64Array, got ${describeValue(values)}`);
  }
  let finalShape = inferred;
  if (shape !== undefined) {
    if (sizeOf(shape) !== data.length) {
      throw new Error(`tensor: ${data.length} value(s) do not fill shape ${formatShape(shape)}, which needs ${sizeOf(shape)}`);
    }
    finalShape = [...shape];
  }
  return new Tensor(data, finalShape, options);
}

export interface FactoryOptions {
  requiresGrad?: boolean;
  name?: string;
  /** Marks a learned parameter; implies requiresGrad unless it is set to false. */
  isParameter?: boolean;
}

export interface RandomOptions extends FactoryOptions {
  /** Same seed, same numbers, on every machine. Without one, a fresh seed from Math.random. */
  seed?: number;
}

const FACTORY_OPTIONS = ['requiresGrad', 'name', 'isParameter'] as const;

function filled(op: string, shape: Shape, value: number, options: FactoryOptions): Tensor {
  assertValidShape(op, shape);
  checkOptions(op, options, [...FACTORY_OPTIONS]);
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${describeValue(value)}`);
  return new Tensor(allocate(op, shape).fill(value), [...shape], options);
}

export function full(shape: Shape, value: number, options: FactoryOptions = {}): Tensor {
  return filled('full', shape, value, options);
}

export function zeros(shape: Shape, options: FactoryOptions = {}): Tensor {
  return filled('zeros', shape, 0, options);
}

export function ones(shape: Shape, options: FactoryOptions = {}): Tensor {
  return filled('ones', shape, 1, options);
}

function randomTensor(op: string, shape: Shape, options: RandomOptions, draw: (random: Random) => number): Tensor {
  assertValidShape(op, shape);
  const { seed } = checkOptions(op, options, ['seed', ...FACTORY_OPTIONS]);
  // The generator checks the seed, naming `op`, before anything is allocated.
  const random = new Random(seed ?? Math.floor(Math.random() * 2 ** 32), op);
  const data = allocate(op, shape);
  for (let i = 0; i < data.length; i++) data[i] = draw(random);
  return new Tensor(data, [...shape], options);
}

/** Standard normal samples. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  return randomTensor('randn', shape, options, (random) => random.normal());
}

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  return randomTensor('rand', shape, options, (random) => random.uniform());
}
