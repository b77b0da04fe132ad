import { noGrad } from '../autograd/mode.js';
import type { GraphNode } from '../autograd/op.js';
import { postOrder } from '../autograd/traversal.js';
import { Random } from '../tensor/random.js';
import { formatShape, sameShape, unravelIndex } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { expectFiniteNumber } from '../validate.js';
import { compareElements, compareProjections, type CheckStatus, type Comparison, type Evaluate } from './differences.js';

/*
 * Which op of a graph has the wrong gradient: every recorded op node's own vector-Jacobian
 * product (its backward, given a random upstream gradient) is compared with central differences
 * of that node's forward, on the input values the node saw. A composite function whose gradient
 * is wrong has at least one such node, and it is named, with its module scope (NVIDIA Warp's
 * gradcheck_tape checks the kernels of a tape the same way).
 */

export interface OpGradientCheck {
  /** The primitive op (`mul`, or a `defineOp` name). */
  opName: string;
  /** What pictures show on the node (BN's `'variance'`). */
  label: string;
  /** The module scope the op was recorded under, outermost first. */
  scope: readonly string[];
  /** Which input of the op, and its name (`a`, `x`, or `input0`). */
  inputIndex: number;
  inputName: string;
  status: CheckStatus;
  maxAbsError: number;
  maxRelError: number;
  /**
   * The element using the largest share of its tolerance. For a failure, `outputIndex` names the
   * output element whose Jacobian entry ∂output/∂input is most wrong, and `analytic`/`numeric`
   * are that entry (outputs of up to 1,024 elements; `outputIndex` is empty for a scalar output);
   * otherwise `outputIndex` is empty and they
   * are the element of gᵀJ compared. `inputIndex` is empty for a projection that passed.
   */
  worst: { inputIndex: number[]; outputIndex: number[]; analytic: number; numeric: number } | null;
  /** The op's key in `trace()` (`op3`), so a picture can mark the node. */
  key: string;
  /** `elements`: each element of the input; `projection`: random directions, halved down to the elements where they disagree (large inputs). */
  mode: 'elements' | 'projection';
  /** Elements of the input, of them wrong, and at a kink. */
  elements: number;
  failures: number;
  kinks: number;
  /** Set when the backward could not be compared at all (it threw, or gave the wrong shape). */
  problem?: string;
}

export interface OpCheckOptions {
  /** Finite-difference step relative to max(1, |x|); steps h, 2h and 4h are taken. Default 1e-5. */
  eps?: number;
  /** Seed of the random upstream gradients and directions. Default 0. */
  seed?: number;
}

/** Inputs with more elements than this are checked through random projections, not element by element. */
export const ELEMENT_LIMIT = 4096;

/** Fresh leaves holding the values the node saw, so nothing the check does reaches the graph. */
function copies(node: GraphNode): Tensor[] {
  return node.inputs.map((t) => new Tensor(Float64Array.from(t.storage), t.shape));
}

function runForward(node: GraphNode, inputs: readonly Tensor[]): Tensor {
  const result = noGrad(() => node.op.forward(inputs, node.attrs));
  return result instanceof Tensor ? result : new Tensor(result.data, result.shape);
}

/** Outputs up to this size get the Jacobian entry of a failing element located. */
const LOCATE_LIMIT = 1024;

interface JacobianEntry {
  outputIndex: number[];
  analytic: number;
  numeric: number;
}

/**
 * The output element whose entry ∂y[k]/∂x[flat] of the Jacobian is most wrong: one backward per
 * output element, with a one-hot upstream gradient, against the central difference of the column.
 */
function locateOutput(node: GraphNode, inputs: readonly Tensor[], output: Tensor, needsInputGrad: readonly boolean[], input: number, flat: number, eps: number): JacobianEntry | null {
  if (output.size > LOCATE_LIMIT) return null;
  const x = inputs[input].storage;
  const original = x[flat];
  const h = eps * Math.max(1, Math.abs(original));
  let plus: Float64Array;
  let minus: Float64Array;
  try {
    x[flat] = original + h;
    plus = runForward(node, inputs).storage;
    x[flat] = original - h;
    minus = runForward(node, inputs).storage;
  } finally {
    x[flat] = original;
  }
  let best: JacobianEntry | null = null;
  let bestError = -1;
  for (let k = 0; k < output.size; k++) {
    const oneHot = new Float64Array(output.size);
    oneHot[k] = 1;
    const gradient = noGrad(() => node.op.backward({ inputs, output, attrs: node.attrs, needsInputGrad }, new Tensor(oneHot, output.shape)))[input];
    const analytic = gradient?.storage[flat] ?? 0;
    const numeric = (plus[k] - minus[k]) / (2 * h);
    const error = Math.abs(analytic - numeric);
    if (error > bestError) {
      bestError = error;
      best = { outputIndex: unravelIndex(k, output.shape), analytic, numeric };
    }
  }
  return best;
}

function problemCheck(base: Omit<OpGradientCheck, 'status' | 'maxAbsError' | 'maxRelError' | 'worst' | 'mode' | 'elements' | 'failures' | 'kinks'>, problem: string): OpGradientCheck {
  return { ...base, status: 'fail', maxAbsError: Infinity, maxRelError: Infinity, worst: null, mode: 'elements', elements: 0, failures: 0, kinks: 0, problem };
}

/** The checks of one node: one per input that requires grad. */
function checkNode(node: GraphNode, key: string, random: Random, options: OpCheckOptions): OpGradientCheck[] {
  const inputs = copies(node);
  const output = runForward(node, inputs);
  const upstream = new Float64Array(output.size);
  for (let k = 0; k < upstream.length; k++) upstream[k] = random.normal();
  const needsInputGrad = node.inputs.map((t) => t.requiresGrad);
  const checked = needsInputGrad.flatMap((needed, i) => (needed ? [i] : []));
  const bases = checked.map((i) => ({ opName: node.op.name, label: node.label, scope: node.scope, inputIndex: i, inputName: node.inputName(i), key }));
  let gradients;
  try {
    gradients = noGrad(() => node.op.backward({ inputs, output, attrs: node.attrs, needsInputGrad }, new Tensor(upstream, output.shape)));
  } catch (error) {
    return bases.map((base) => problemCheck(base, `its backward threw: ${(error as Error).message}`));
  }
  const evaluate: Evaluate = () => [runForward(node, inputs).storage];
  return checked.map((i, position) => {
    const base = bases[position];
    const x = inputs[i];
    const given = gradients[i];
    // No gradient means a zero one to the engine, and so to the check.
    const analytic = given ?? new Tensor(new Float64Array(x.size), x.shape);
    if (!(analytic instanceof Tensor)) return problemCheck(base, `its backward gave ${typeof analytic} for ${base.inputName}, not a Tensor`);
    if (!sameShape(analytic.shape, x.shape)) {
      return problemCheck(base, `its backward gave a gradient of shape ${formatShape(analytic.shape)} for ${base.inputName} of shape ${formatShape(x.shape)}`);
    }
    const projection = x.size > ELEMENT_LIMIT;
    const comparison: Comparison = projection
      ? compareProjections(x.storage, x.shape, analytic.storage, evaluate, [upstream], { eps: 1e-3, elementEps: options.eps ?? 1e-5, random })
      : compareElements(x.storage, x.shape, analytic.storage, evaluate, [upstream], { eps: options.eps ?? 1e-5 });
    if (comparison.unstable) return problemCheck(base, 'its forward gives different values for the same inputs, so no difference measures its gradient');
    const { worst } = comparison;
    const located = comparison.status === 'fail' && worst !== null && worst.inputIndex.length > 0
      ? locateOutput(node, inputs, output, needsInputGrad, i, ravelIndex(worst.inputIndex, x.shape), options.eps ?? 1e-5)
      : null;
    return {
      ...base,
      status: comparison.status,
      maxAbsError: comparison.maxAbsError,
      maxRelError: comparison.maxRelError,
      worst: worst && { inputIndex: worst.inputIndex, ...(located ?? { outputIndex: [], analytic: worst.analytic, numeric: worst.numeric }) },
      mode: projection ? 'projection' : 'elements',
      elements: comparison.elements,
      failures: comparison.failures,
      kinks: comparison.kinks,
    };
  });
}

/**
 * Checks the gradient of every op recorded on the way to `outputs`, each on its own, in the
 * order of `trace()` (inputs before the ops that use them). Reads the graph only: no values,
 * `.grad` or nodes of it change.
 */
export function checkRecordedOps(outputs: readonly Tensor[], options: OpCheckOptions = {}): OpGradientCheck[] {
  if (!Array.isArray(outputs) || !outputs.every((t) => t instanceof Tensor)) throw new Error('checkRecordedOps: outputs must be an array of Tensors');
  const eps = options.eps;
  if (eps !== undefined) expectFiniteNumber('checkRecordedOps', 'eps', eps, { min: 0, exclusiveMin: true });
  const random = new Random(options.seed ?? 0, 'checkRecordedOps');
  const checks: OpGradientCheck[] = [];
  let opCount = 0;
  for (const t of postOrder(outputs)) {
    if (t.node === null) continue;
    // The same key trace() gives this op: both number the ops of one post-order walk.
    checks.push(...checkNode(t.node, `op${opCount++}`, random, options));
  }
  return checks;
}

/** The checks that failed: the ops whose own gradient is wrong, inputs first. */
export function culprits(checks: readonly OpGradientCheck[]): OpGradientCheck[] {
  return checks.filter((check) => check.status === 'fail');
}

/** A number as the check tables print it: six digits, or an exponent for the very small and large. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? '0' : Math.abs(value) >= 1e-3 && Math.abs(value) < 1e4 ? value.toPrecision(6).replace(/\.?0+$/, '') : value.toExponential(2);
}

/** `op 'cube' (label 'x³', in Sequential › Linear)`. */
export function describeOp(check: Pick<OpGradientCheck, 'opName' | 'label' | 'scope'>): string {
  const details = [
    ...(check.label === check.opName ? [] : [`'${check.label}'`]),
    ...(check.scope.length === 0 ? [] : [`in ${check.scope.join(' › ')}`]),
  ];
  return `op '${check.opName}'${details.length === 0 ? '' : ` (${details.join(', ')})`}`;
}

function ravelIndex(index: readonly number[], shape: readonly number[]): number {
  return index.reduce((flat, i, axis) => flat * shape[axis] + i, 0);
}

/** One line that leads with the culprit: "the gradient of op 'cube' with respect to its input x is wrong: ...". */
export function describeCulprit(check: OpGradientCheck): string {
  const lead = `the gradient of ${describeOp(check)} with respect to its input ${check.inputName} is wrong`;
  if (check.problem !== undefined) return `${lead}: ${check.problem}`;
  const output = check.worst !== null && check.worst.outputIndex.length > 0 ? ` (output ${formatShape(check.worst.outputIndex)})` : '';
  const where = check.worst === null ? '' : check.worst.inputIndex.length > 0 ? ` at ${check.inputName}${formatShape(check.worst.inputIndex)}${output}` : ' along a random direction';
  const values = check.worst === null ? '' : `: analytic ${formatNumber(check.worst.analytic)}, numeric ${formatNumber(check.worst.numeric)}`;
  return `${lead}${where}${values} (max rel err ${formatNumber(check.maxRelError)}, ${check.failures} of ${check.elements} elements wrong)`;
}

/** The checks as a table: one row per op input. */
export function formatOpChecks(checks: readonly OpGradientCheck[]): string {
  const rows = [['op', 'label', 'scope', 'input', 'max abs err', 'max rel err', 'result']];
  for (const c of checks) {
    const result = c.status === 'fail' ? `FAIL (${c.failures} of ${c.elements})` : c.status === 'kink' ? `kink (${c.kinks} of ${c.elements})` : 'pass';
    rows.push([c.opName, c.label, c.scope.join(' › '), c.inputName, formatNumber(c.maxAbsError), formatNumber(c.maxRelError), result]);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}
