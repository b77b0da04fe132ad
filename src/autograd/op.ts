import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, unravelIndex, type Shape } from '../tensor/shape.js';
import { getScope, isAnomalyEnabled, isGradEnabled, noGrad, shouldCheckOutputs } from './mode.js';
import { findNonFinite } from './anomaly.js';
import { firstChange, keepForBackward } from './saved.js';
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

let nextNodeId = 0;

/** A recorded application of an op: what produced a tensor. */
export class GraphNode<Attrs = unknown> {
  /** Creation order; only used to break ties deterministically, never shown. */
  readonly id = nextNodeId++;
  /** The label pictures show; callers may set it (BN names its steps this way). */
  label: string;
  /** The module scope the op was recorded under, outermost first. */
  readonly scope: readonly string[];
  /** Where the node was created, kept only under `detectAnomaly`. */
  readonly creationStack: string | undefined;
  /** For the inputs, then the output: the values backward must find in them (see saved.ts). */
  private readonly keptValues: readonly (Float64Array | null)[];

  constructor(
    readonly op: OpDefinition<Attrs>,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    public output: Tensor,
  ) {
    const { label } = op;
    this.label = typeof label === 'function' ? label(attrs) : (label ?? op.name);
    this.scope = getScope();
    this.creationStack = isAnomalyEnabled() ? new Error().stack : undefined;
    this.keptValues = [...inputs, output].map((t) => keepForBackward(t.storage));
  }

  /**
   * Refuses to differentiate through values changed since this node was recorded: the
   * gradient would silently come from the new ones (PyTorch: "one of the variables needed for
   * gradient computation has been modified by an inplace operation").
   */
  checkSavedValues(): void {
    [...this.inputs, this.output].forEach((t, i) => {
      const change = firstChange(t.storage, this.keptValues[i]);
      if (change === null) return;
      const role = i < this.inputs.length ? `input ${this.inputName(i)}` : 'output';
      const which = t.name ? `tensor '${t.name}'` : `a tensor of shape ${formatShape(t.shape)}`;
      throw new Error(
        `backward: ${which}, saved as the ${role} of op '${this.op.name}' (label '${this.label}'), was changed in place after the op was recorded: ` +
          `element ${formatShape(unravelIndex(change.index, t.shape))} was ${String(change.was)} and is now ${String(t.storage[change.index])}. Gradients through the op would be computed from the new values; ` +
          'run the forward pass again after changing it (PyTorch: "one of the variables needed for gradient computation has been modified by an inplace operation")',
      );
    });
  }

  inputName(index: number): string {
    return this.op.inputNames?.[index] ?? `input${index}`;
  }
}

/** Turns an operand into a tensor, naming the op and argument when it cannot. */
export function toTensor(op: string, argument: string, value: TensorLike): Tensor {
  if (value instanceof Tensor) return value;
  if (typeof value === 'number') return Tensor.scalar(value);
  throw new Error(`${op}: argument ${argument} must be a Tensor or a number, got ${describeValue(value)}`);
}

/**
 * Runs an op: converts operands, computes the forward kernel without recording, and records
 * a node when gradients are being recorded and some input requires them.
 */
export function applyOp<Attrs>(op: OpDefinition<Attrs>, operands: readonly TensorLike[], attrs: Attrs): Tensor {
  const inputs = operands.map((value, i) => toTensor(op.name, op.inputNames?.[i] ?? `input${i}`, value));
  const result = noGrad(() => op.forward(inputs, attrs));
  if (!(result instanceof Tensor) && !(result?.data instanceof Float64Array && Array.isArray(result.shape))) {
    throw new Error(`${op.name}: forward must return a Tensor or { data: Float64Array, shape }, got ${typeof result}`);
  }
  const output = new Tensor(result instanceof Tensor ? result.storage : result.data, result.shape);
  if (shouldCheckOutputs()) {
    const bad = findNonFinite(output);
    if (bad) throw new Error(`detectAnomaly: op '${op.name}' produced ${bad.value} in its output (shape ${formatShape(output.shape)}) at index ${formatShape(bad.index)}`);
  }
  if (isGradEnabled() && inputs.some((input) => input.requiresGrad)) {
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
  return (...inputs) => applyOp(op, inputs, undefined);
}
