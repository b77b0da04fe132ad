import type { OpGradientCheck } from '../checking/op-check.js';
import { formatNumber } from '../checking/op-check.js';
import type { CheckStatus } from '../checking/differences.js';

/*
 * How a picture marks each op node with the check of its own gradient (checkRecordedOps): a
 * colour for pass, fail or kink, the worst error in the label, and a heavy border on a culprit.
 */

export const CHECK_COLORS: Readonly<Record<CheckStatus, { fill: string; line: string }>> = {
  // A deeper green than an input's, so a checked op never reads as data.
  pass: { fill: '#b9e4c2', line: '#237a3b' },
  kink: { fill: '#fff1c2', line: '#a07800' },
  fail: { fill: '#f8c9c4', line: '#c0392b' },
};

export interface CheckMark {
  status: CheckStatus;
  /** Lines to add under the op's label. */
  lines: string[];
}

/** The op's status over all its inputs: a wrong gradient outweighs a kink, a kink a pass. */
function combined(checks: readonly OpGradientCheck[]): CheckStatus {
  return checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'kink') ? 'kink' : 'pass';
}

function lines(check: OpGradientCheck, several: boolean): string[] {
  const input = several ? ` ∂/∂${check.inputName}` : '';
  if (check.status === 'fail') {
    if (check.problem !== undefined) return [`✗ ∂/∂${check.inputName} wrong: ${check.problem.replace(/^its /, '')}`];
    const where = check.worst !== null && check.worst.inputIndex.length > 0 ? ` at [${check.worst.inputIndex.join(', ')}]` : '';
    return [`✗ ∂/∂${check.inputName} wrong${where}`, `max rel err ${formatNumber(check.maxRelError)}`];
  }
  if (check.status === 'kink') return [`kink${input}: ${check.kinks} of ${check.elements}`];
  return [`✓ max rel err ${formatNumber(check.maxRelError)}`];
}

/** The marks by trace op key. An op with several checked inputs shows the worst, or each failing one. */
export function checkMarks(checks: readonly OpGradientCheck[]): Map<string, CheckMark> {
  if (!Array.isArray(checks)) throw new Error(`toDot: option checks must be the array checkRecordedOps returns, got ${checks === null ? 'null' : typeof checks}`);
  const byKey = new Map<string, OpGradientCheck[]>();
  for (const check of checks) byKey.set(check.key, [...(byKey.get(check.key) ?? []), check]);
  const marks = new Map<string, CheckMark>();
  for (const [key, own] of byKey) {
    const status = combined(own);
    const several = own.length > 1;
    const shown = status === 'pass'
      ? [own.reduce((worst, c) => (c.maxRelError > worst.maxRelError ? c : worst))]
      : own.filter((c) => c.status === status);
    marks.set(key, { status, lines: [...(status === 'fail' ? ['CULPRIT'] : []), ...shown.flatMap((c) => lines(c, several && status === 'kink'))] });
  }
  return marks;
}
