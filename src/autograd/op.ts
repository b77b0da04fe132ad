import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, sameShape, unravelIndex, type Shape } from '../tensor/shape.js';
import { getScope, isAnomalyEnabled, isGradEnabled, noGrad, shouldCheckOutputs } from './mode.js';
import { findNonFinite } from './anomaly.js';
import { constantBuffer, firstChange, keepForBackward, shareBuffer } from './saved.js';
import { describeValue } from '../validate.js';

/** What an op's forward kernel may return: a tensor, or raw row-major data with its shape. */
export interface RawTensor {
  readonly data: Float64Array;
  readonly shape: Shape;
}

/** What an op's backward sees. `needsInputGrad[i]` is false for inputs nobody asked about. */
export interface BackwardContext<Attrs> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: Attrs;
  readonly needsInputGrad: readonly boolean[];
}

/** A gradient per input, or null/undefined where the input needs none. */
export type InputGradients = readonly (Tensor | null | undefined)[];

/**
 * What a gradient formula is written with: the forward tensors' names as the picture shows them.
 * `inputs` and `output` come ready to stand next to an operator (a compound name in parentheses,
 * `(x − μ)`); `plain` has them as they are, for inside a function call: `sign(x − μ)`.
 */
export interface FormulaNames {
  readonly inputs: readonly string[];
  readonly output: string;
  readonly plain: { readonly inputs: readonly string[]; readonly output: string };
  /** The gradient arriving at the output: `∂L/∂x̂`. */
  readonly grad: string;
  /**
   * Per input, `Σₙ ` (with its trailing space) when the op broadcast that input along some axes,
   * so its gradient is summed over them; '' otherwise. Elementwise ops put it in front.
   */
  readonly sum: readonly string[];
  /** `Σₙ ` for summing over these axes of the output, for ops that know their own sums. */
  sumOver(axes: readonly number[]): string;
  /** A size as the picture writes it: `N` where the picture calls 4 N, else `4`. */
  size(n: number): string;
}

/**
 * The local gradients as a picture writes them: for each input, the right-hand side of
 * `∂L/∂input = …`, in the forward tensors' names. For `div` (a / b):
 *
 *   formula: ({ inputs: [a, b], grad, sum }) => [`${sum[0]}${grad} / ${b}`, `−${sum[1]}${grad} · ${a} / ${b}²`]
 *
 * which the BN picture shows as `∂L/∂σ = −Σₙ ∂L/∂x̂ · (x − μ) / σ²`. Use `·` for products, `@`
 * for matrix products, `−` (U+2212) for minus, superscripts for powers, and `sum[i]` wherever the
 * op broadcasts input i. The picture adds the left-hand side and the step numbers.
 *
 * A reduction writes the value each input element receives (`mean`: `∂L/∂μ / N`, with `size`
 * naming the count); the copy back over the reduced axes goes without saying. Every
 * OpDefinition has a formula (the type checker insists); tests/graph/formulas.test.ts shows
 * what they print.
 */
export type GradientFormula<Attrs> = (names: FormulaNames, attrs: Attrs) => readonly string[];

/** What a custom op without a formula shows: the chain rule, which is always true. */
export const chainRuleFormula: GradientFormula<unknown> = ({ plain, grad }) =>
  plain.inputs.map((input) => `${grad} · ∂${wrapCompound(plain.output)}/∂${wrapCompound(input)}`);

/** A name in parentheses when it is more than one symbol: `(x − μ)`, but `σ²` and `x̂` as they are. */
export function wrapCompound(name: string): string {
  return /^[\p{L}\p{M}\p{N}_.]+$/u.test(name) ? name : `(${name})`;
}

/**
 * One op, forward and gradient side by side. `backward` is a vector-Jacobian product written
 * with tensor ops, so with `createGraph` it is recorded and can be differentiated again.
 */
export interface OpDefinition<Attrs = undefined> {
  readonly name: string;
  /** Names of the inputs, for error messages and pictures (default `input0`, `input1`, ...). */
  readonly inputNames?: readonly string[];
  /** The label a picture shows on the op node; defaults to `name`. */
  readonly label?: string | ((attrs: Attrs) => string);
  forward(inputs: readonly Tensor[], attrs: Attrs): Tensor | RawTensor;
  backward(ctx: BackwardContext<Attrs>, gradOutput: Tensor): InputGradients;
  /** The same gradient as `backward`, written out for pictures (see `GradientFormula`). */
  readonly formula: GradientFormula<Attrs>;
}

/*
 * What few nodes have is kept off the node, so the many do not pay a field for it: where it was
 * created (only under `detectAnomaly`), and for the inputs, then the output, the values backward
 * must find in them (only when a buffer had been handed out through `.data`; see saved.ts).
 */
const creationStacks = new WeakMap<object, string>();
const keptValues = new WeakMap<object, readonly (Float64Array | null)[]>();

/**
 * A recorded application of an op: what produced a tensor. A long chain holds one per op, so
 * it keeps only what backward and the pictures read (issue #12: a few hundred bytes per op).
 */
export class GraphNode<Attrs = unknown> {
  /**
   * Scratch for the backward pass that last walked this node (engine.ts): that pass's number,
   * and how many uses of the output have yet to send their gradient. Two small integers here
   * cost less than the per-pass set and order array they replace (a long chain's memory).
   */
  backwardPass = 0;
  pendingUses = 0;
  /** The label pictures show; callers may set it (BN names its steps this way). */
  label: string;
  /** The module scope the op was recorded under, outermost first. */
  readonly scope: readonly string[];

  constructor(
    readonly op: OpDefinition<Attrs>,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    public output: Tensor,
  ) {
    const { label } = op;
    this.label = typeof label === 'function' ? label(attrs) : (label ?? op.name);
    this.scope = getScope();
    if (isAnomalyEnabled()) creationStacks.set(this, new Error().stack ?? '');
    let kept: (Float64Array | null)[] | undefined;
    for (let i = 0; i <= inputs.length; i++) {
      const t = i < inputs.length ? inputs[i] : output;
      t.savedByNode = true;
      const values = keepForBackward(t.storage);
      if (values !== null) (kept ??= new Array<Float64Array | null>(inputs.length + 1).fill(null))[i] = values;
    }
    if (kept !== undefined) keptValues.set(this, kept);
  }

  /** Where the node was created, kept only under `detectAnomaly`. */
  get creationStack(): string | undefined {
    return creationStacks.get(this);
  }

  /**
   * Refuses to differentiate through values changed since this node was recorded: the
   * gradient would silently come from the new ones (PyTorch: "one of the variables needed for
   * gradient computation has been modified by an inplace operation").
   */
  checkSavedValues(): void {
    const kept = keptValues.get(this);
    for (let i = 0; i <= this.inputs.length; i++) {
      const t = i < this.inputs.length ? this.inputs[i] : this.output;
      const change = firstChange(t.storage, kept?.[i] ?? null);
      if (change === null) continue;
      const role = i < this.inputs.length ? `input ${this.inputName(i)}` : 'output';
      const which = t.name ? `tensor '${t.name}'` : `a tensor of shape ${formatShape(t.shape)}`;
      throw new Error(
        `backward: ${which}, saved as the ${role} of op '${this.op.name}' (label '${this.label}'), was changed in place after the op was recorded: ` +
          `element ${formatShape(unravelIndex(change.index, t.shape))} was ${String(change.was)} and is now ${String(t.storage[change.index])}. Gradients through the op would be computed from the new values; ` +
          'run the forward pass again after changing it (PyTorch: "one of the variables needed for gradient computation has been modified by an inplace operation")',
      );
    }
  }

  inputName(index: number): string {
    return this.op.inputNames?.[index] ?? `input${index}`;
  }
}

/**
 * True when an op's result would be its kernel's values and nothing more: no recording, no
 * anomaly check. A backward pass without createGraph is so, and its small gradients (a sum down
 * to a row, a negation) are then worked out with the kernels alone, not an op apiece.
 */
export function opsOnlyWrap(): boolean {
  return !isGradEnabled() && !isAnomalyEnabled();
}

/** The shape of every constant made from a plain number: one array for all of them. */
const SCALAR_SHAPE: readonly number[] = /* @__PURE__ */ Object.freeze([]);

/** Turns an operand into a tensor, naming the op and argument when it cannot. */
export function toTensor(op: string, argument: string, value: TensorLike): Tensor {
  if (value instanceof Tensor) return value;
  if (typeof value === 'number') return new Tensor(constantBuffer(value), SCALAR_SHAPE);
  throw new Error(`${op}: argument ${argument} must be a Tensor or a number, got ${describeValue(value)}`);
}

/** An input's shape array when it equals `shape` (shapes are never written): one array fewer per op. */
function sharedShape(inputs: readonly Tensor[], shape: Shape): Shape {
  for (let i = 0; i < inputs.length; i++) {
    const own = inputs[i].shape;
    if (own !== shape && sameShape(own, shape)) return own;
  }
  return shape;
}

/**
 * Runs an op: converts operands, computes the forward kernel without recording, and records
 * a node when gradients are being recorded and some input requires them.
 */
export function applyOp<Attrs>(op: OpDefinition<Attrs>, operands: readonly TensorLike[], attrs: Attrs): Tensor {
  // Plain loops, no closures: this runs for every op, and a small tensor's op is mostly this.
  const inputs = new Array<Tensor>(operands.length);
  for (let i = 0; i < operands.length; i++) {
    const value = operands[i];
    inputs[i] = value instanceof Tensor ? value : toTensor(op.name, op.inputNames?.[i] ?? `input${i}`, value);
  }
  const result = noGrad(() => op.forward(inputs, attrs));
  if (!(result instanceof Tensor) && !(result?.data instanceof Float64Array && Array.isArray(result.shape))) {
    throw new Error(`${op.name}: forward must return a Tensor or { data: Float64Array, shape }, got ${typeof result}`);
  }
  const data = result instanceof Tensor ? result.storage : result.data;
  // A view (reshape and its kind) hands back its input's buffer: two tensors now hold it.
  let view = false;
  let someRequireGrad = false;
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].storage === data) view = true;
    if (inputs[i].requiresGrad) someRequireGrad = true;
  }
  const output = new Tensor(view ? shareBuffer(data) : data, sharedShape(inputs, result.shape));
  if (shouldCheckOutputs()) {
    const bad = findNonFinite(output);
    if (bad) throw new Error(`detectAnomaly: op '${op.name}' produced ${bad.value} in its output (shape ${formatShape(output.shape)}) at index ${formatShape(bad.index)}`);
  }
  if (someRequireGrad && isGradEnabled()) {
    // Once recorded, a node's attrs are only read back by its own op, so the type is erased.
    output.node = new GraphNode(op, inputs, attrs, output) as unknown as GraphNode;
    output.requiresGrad = true;
  }
  return output;
}

/** A user-defined op, like `torch.autograd.Function`: forward with tensor ops, backward as a VJP. */
export interface CustomOp {
  readonly name: string;
  readonly inputNames?: readonly string[];
  readonly label?: string;
  /**
   * The local gradients for pictures, one right-hand side per input (see `GradientFormula`);
   * without one, pictures write the chain rule `∂L/∂y · ∂y/∂x`.
   */
  readonly formula?: GradientFormula<undefined>;
  /** Computes the output; runs without recording, so any tensor ops may be used. */
  forward(...inputs: Tensor[]): Tensor;
  /** One gradient per input (null where none is needed), written with tensor ops so it can be differentiated again. */
  backward(ctx: BackwardContext<undefined>, gradOutput: Tensor): InputGradients;
}

/** Defines a custom op whose node appears in graphs and pictures under `name` (or `label`). */
export function defineOp(spec: CustomOp): (...inputs: TensorLike[]) => Tensor {
  if (typeof spec?.name !== 'string' || spec.name === '') throw new Error('defineOp: name must be a non-empty string');
  for (const key of ['forward', 'backward'] as const) {
    if (typeof spec[key] !== 'function') throw new Error(`defineOp: '${spec.name}' needs a ${key} function`);
  }
  if (spec.formula !== undefined && typeof spec.formula !== 'function') {
    throw new Error(`defineOp: '${spec.name}' formula must be a function returning one string per input, got ${typeof spec.formula}`);
  }
  const op: OpDefinition = {
    name: spec.name,
    ...(spec.inputNames ? { inputNames: spec.inputNames } : {}),
    ...(spec.label !== undefined ? { label: spec.label } : {}),
    formula: spec.formula ?? chainRuleFormula,
    forward: (inputs) => spec.forward(...inputs),
    backward: (ctx, g) => {
      const grads = spec.backward(ctx, g);
      if (!Array.isArray(grads)) throw new Error(`backward of op '${spec.name}' must return an array with one gradient per input, got ${typeof grads}`);
      return grads;
    },
  };
  customOps.add(op);
  return (...inputs) => applyOp(op, inputs, undefined);
}

/** Ops from defineOp: their backward is the user's, which may keep the gradient it was given or return one it keeps. */
const customOps = new WeakSet<OpDefinition>();

export function isCustomOp(op: OpDefinition<never>): boolean {
  return customOps.has(op as OpDefinition);
}
