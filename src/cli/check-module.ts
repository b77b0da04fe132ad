import { postOrder } from '../autograd/traversal.js';
import { gradcheck, type GradcheckReport, type InputReport } from '../checking/gradcheck.js';
import { checkRecordedOps, culprits, describeCulprit, describeOp, formatNumber, formatOpChecks, type OpGradientCheck } from '../checking/op-check.js';
import type { Tensor } from '../index.js';
import { formatShape } from '../tensor/shape.js';
import { callUserFunction, checkOutputs, loadUserFunction, type BuildOptions, type UserFunction } from './user-module.js';

/*
 * `gradgraph check ./my-graph.ts`: gradcheck of the user's function with respect to the leaves
 * it reads that require grad. gradcheck perturbs those very leaves in place and calls the
 * function again (as PyTorch's gradcheck does), and leaves them bit for bit as they were; then
 * every recorded op is checked on its own, to name the op that is wrong.
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

/** Whether two calls gave the same values, bit for bit (NaN equal to NaN). */
function sameValues(first: readonly Tensor[], second: readonly Tensor[]): boolean {
  return first.length === second.length && first.every((t, o) => t.size === second[o].size && t.storage.every((v, k) => Object.is(v, second[o].storage[k]) || v === second[o].storage[k]));
}

/** |analytic − numeric| / max(|analytic|, |numeric|) of the worst element, as the op table measures it. */
function relativeErrorOfWorst(r: InputReport): number {
  if (r.worst === null) return 0;
  const { analytic, numeric } = r.worst;
  const error = Math.abs(analytic - numeric);
  return error === 0 ? 0 : error / Math.max(Math.abs(analytic), Math.abs(numeric));
}

function formatLeafRows(leaves: readonly Tensor[], reports: readonly InputReport[]): string {
  const rows = [['input', 'shape', 'max abs err', 'worst rel err', 'result', 'worst element']];
  leaves.forEach((leaf, i) => {
    const r = reports[i];
    const name = leafName(leaf, i);
    const result = r.status === 'fail' ? `FAIL (${r.failing} of ${r.total})` : r.status === 'kink' ? `kink (${r.kinks} of ${r.total})` : r.status;
    const worst = r.worst === null ? '' : `${r.worst.inputIndex.length > 0 ? `${name}${formatShape(r.worst.inputIndex)}` : 'a random direction'}: analytic ${formatNumber(r.worst.analytic)}, numeric ${formatNumber(r.worst.numeric)}`;
    rows.push([name, formatShape(leaf.shape), formatNumber(r.maxAbsError), formatNumber(relativeErrorOfWorst(r)), result, worst]);
  });
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

function header(path: string, mode: CheckMode, total: number, report: GradcheckReport): string {
  const how = report.mode === 'fast'
    ? `fast mode: random projections, halved down to the wrong elements${mode === 'auto' ? `, as the inputs have ${total} > ${FULL_CHECK_LIMIT} elements` : ''}`
    : 'full mode: every element';
  return `Gradient check of '${path}' (${how}; step ${formatNumber(report.options.eps)}·max(1, |x|), tolerance from the differences' error estimate, up to ${formatNumber(report.largestTolerance)})`;
}

export async function checkUserModule(path: string, options: BuildOptions, mode: CheckMode): Promise<ModuleCheck> {
  const build = await loadUserFunction('check', path);
  const outputs = run(path, build, options);
  const leaves = leavesOf(outputs);
  if (leaves.length === 0) throw new Error(`check: the outputs of '${path}' were computed from no tensor with requiresGrad: true, so there is no gradient to check`);
  const again = run(path, build, options);
  const againLeaves = leavesOf(again);
  if (againLeaves.length !== leaves.length || againLeaves.some((t, i) => t !== leaves[i])) {
    throw new Error(`check: the function exported by '${path}' makes new input tensors on every call, so changing them cannot change its result; create the tensors that require grad once, outside the function, and only compute with them inside`);
  }
  if (!sameValues(outputs, again)) {
    throw new Error(`check: the function exported by '${path}' gives different values each time it is called with the same inputs, so no difference measures its gradient; make it deterministic (seed its random numbers)`);
  }

  const total = leaves.reduce((sum, t) => sum + t.size, 0);
  const fastMode = mode === 'fast' || (mode === 'auto' && total > FULL_CHECK_LIMIT);
  const whole = gradcheck(() => run(path, build, options), leaves, { fastMode, seed: options.seed });
  const checks = checkRecordedOps(outputs, { seed: options.seed });

  const wholeFailed = whole.inputs.some((r) => r.status === 'fail');
  const found = culprits(checks);
  const verdict = wholeFailed || found.length > 0 ? 'FAILED' : 'passed';
  const report = [`${header(path, mode, total, whole)}: ${verdict}`, formatLeafRows(leaves, whole.inputs), '', `Each op's own gradient, on the values it saw:`, formatOpChecks(checks), ''].join('\n');
  let failure: string | null = null;
  if (found.length > 0) {
    const more = found.length > 1 ? ` (and ${found.length - 1} more: ${found.slice(1).map(describeOp).join(', ')})` : '';
    failure = `check: ${describeCulprit(found[0])}${more}`;
  } else if (wholeFailed) {
    const i = whole.inputs.findIndex((r) => r.status === 'fail');
    failure = `check: the gradient with respect to ${leafName(leaves[i], i)} is wrong (max rel err ${formatNumber(whole.inputs[i].maxRelError)}), yet each op's own gradient is right: does the function give the same result every time it is called?`;
  }
  return { passed: failure === null, outputs, checks, report, failure };
}
