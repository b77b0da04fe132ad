import { postOrder } from '../autograd/traversal.js';
import { compareElements, compareProjections, type Comparison } from '../checking/differences.js';
import { checkRecordedOps, culprits, describeCulprit, describeOp, formatNumber, formatOpChecks, type OpGradientCheck } from '../checking/op-check.js';
import { grad, type Tensor } from '../index.js';
import { Random } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import { callUserFunction, checkOutputs, loadUserFunction, type BuildOptions, type UserFunction } from './user-module.js';

/*
 * `gradgraph check ./my-graph.ts`: the gradient of the user's function with respect to the
 * leaves it reads that require grad, against central differences taken by perturbing those very
 * leaves in place and calling the function again (as PyTorch's gradcheck does), with the
 * error-estimate tolerance of the per-op check; then every recorded op on its own, to name the
 * op that is wrong. The leaves are left bit for bit as they were.
 */

export type CheckMode = 'auto' | 'fast' | 'full';

/** Above this many elements in all leaves together, `auto` compares projections, not every element. */
export const FULL_CHECK_LIMIT = 1024;

export interface ModuleCheck {
  passed: boolean;
  outputs: Tensor[];
  checks: OpGradientCheck[];
  /** The tables, for stdout. */
  report: string;
  /** One line for stderr when the check failed: the culprit first. */
  failure: string | null;
}

/** The leaves the outputs were computed from that require grad, in graph order. */
function leavesOf(outputs: readonly Tensor[]): Tensor[] {
  return postOrder(outputs).filter((t) => t.isLeaf && t.requiresGrad);
}

function leafName(t: Tensor, i: number): string {
  return t.name ?? `leaf ${i}`;
}

function run(path: string, build: UserFunction, options: BuildOptions): Tensor[] {
  const result = callUserFunction('check', path, build, options);
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new Error(`check: the function exported by '${path}' returns a Promise; check calls it again for every step, so it must return the tensors themselves`);
  }
  return checkOutputs('check', path, result);
}

function formatLeafRows(leaves: readonly Tensor[], comparisons: readonly Comparison[]): string {
  const rows = [['input', 'shape', 'max abs err', 'max rel err', 'result', 'worst element']];
  leaves.forEach((leaf, i) => {
    const c = comparisons[i];
    const name = leafName(leaf, i);
    const result = c.status === 'fail' ? `FAIL (${c.failures} of ${c.elements})` : c.status === 'kink' ? `kink (${c.kinks} of ${c.elements})` : 'pass';
    const worst = c.worst === null ? '' : `${c.worst.inputIndex.length > 0 ? `${name}${formatShape(c.worst.inputIndex)}` : 'a random direction'}: analytic ${formatNumber(c.worst.analytic)}, numeric ${formatNumber(c.worst.numeric)}`;
    rows.push([name, formatShape(leaf.shape), formatNumber(c.maxAbsError), formatNumber(c.maxRelError), result, worst]);
  });
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

export async function checkUserModule(path: string, options: BuildOptions, mode: CheckMode): Promise<ModuleCheck> {
  const build = await loadUserFunction('check', path);
  const outputs = run(path, build, options);
  const leaves = leavesOf(outputs);
  if (leaves.length === 0) throw new Error(`check: the outputs of '${path}' were computed from no tensor with requiresGrad: true, so there is no gradient to check`);
  const again = leavesOf(run(path, build, options));
  if (again.length !== leaves.length || again.some((t, i) => t !== leaves[i])) {
    throw new Error(`check: the function exported by '${path}' makes new input tensors on every call, so changing them cannot change its result; create the tensors that require grad once, outside the function, and only compute with them inside`);
  }

  const random = new Random(options.seed + 7919);
  const upstream = outputs.map((y) => {
    const values = new Float64Array(y.size);
    for (let k = 0; k < values.length; k++) values[k] = random.normal();
    return values;
  });
  const OwnTensor = outputs[0].constructor as typeof Tensor;
  const analytic = grad(outputs, leaves, { gradOutputs: outputs.map((y, o) => new OwnTensor(upstream[o], y.shape)), allowUnused: true });
  const evaluate = () => run(path, build, options).map((y) => y.data);
  const total = leaves.reduce((sum, t) => sum + t.size, 0);
  const projections = mode === 'fast' || (mode === 'auto' && total > FULL_CHECK_LIMIT);
  const comparisons = leaves.map((leaf, i) => (projections
    ? compareProjections(leaf.data, leaf.shape, analytic[i].data, evaluate, upstream, { eps: 1e-3, elementEps: 1e-5, random })
    : compareElements(leaf.data, leaf.shape, analytic[i].data, evaluate, upstream, { eps: 1e-5 })));
  const checks = checkRecordedOps(outputs, { seed: options.seed });

  const wholeFailed = comparisons.some((c) => c.status === 'fail');
  const found = culprits(checks);
  const header = `Gradient check of '${path}' (${projections ? `fast mode: random projections, halved down to the wrong elements${mode === 'auto' ? `, as the inputs have ${total} > ${FULL_CHECK_LIMIT} elements` : ''}` : 'full mode: every element'}; steps h, 2h, 4h, tolerance from their error estimate)`;
  const verdict = wholeFailed || found.length > 0 ? 'FAILED' : 'passed';
  const report = [`${header}: ${verdict}`, formatLeafRows(leaves, comparisons), '', `Each op's own gradient, on the values it saw:`, formatOpChecks(checks), ''].join('\n');
  let failure: string | null = null;
  if (found.length > 0) {
    const more = found.length > 1 ? ` (and ${found.length - 1} more: ${found.slice(1).map(describeOp).join(', ')})` : '';
    failure = `check: ${describeCulprit(found[0])}${more}`;
  } else if (wholeFailed) {
    const i = comparisons.findIndex((c) => c.status === 'fail');
    failure = `check: the gradient with respect to ${leafName(leaves[i], i)} is wrong (max rel err ${formatNumber(comparisons[i].maxRelError)}), yet each op's own gradient is right: does the function give the same result every time it is called?`;
  }
  return { passed: failure === null, outputs, checks, report, failure };
}
