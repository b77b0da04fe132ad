/**
 * `expect(fn).toPassGradcheck(inputs, options?)` for vitest. Importing this module registers
 * the matcher (add it to `setupFiles`, or import it at the top of a test file).
 */
import { expect } from 'vitest';
import { gradcheck, gradgradcheck, type CheckedFunction, type GradcheckOptions } from './checking/gradcheck.js';
import type { Tensor } from './tensor/tensor.js';

interface GradcheckMatchers<R = unknown> {
  /** Passes when gradcheck(fn, inputs, options) passes; the failure message is gradcheck's table. */
  toPassGradcheck(inputs: readonly Tensor[], options?: GradcheckOptions): R;
  /** The same for second derivatives (gradgradcheck). */
  toPassGradgradcheck(inputs: readonly Tensor[], options?: GradcheckOptions): R;
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends GradcheckMatchers<T> {}
}

function matcher(check: typeof gradcheck) {
  return function (this: { isNot: boolean }, received: unknown, inputs: readonly Tensor[], options: GradcheckOptions = {}) {
    if (typeof received !== 'function') {
      return { pass: false, message: () => `expected a function of tensors, got ${typeof received}` };
    }
    const report = check(received as CheckedFunction, inputs, { ...options, raiseOnFailure: false });
    return {
      pass: report.passed,
      message: () => (this.isNot ? `expected the gradient check to fail, but it passed:\n${report.message}` : report.message),
    };
  };
}

expect.extend({
  toPassGradcheck: matcher(gradcheck),
  toPassGradgradcheck: matcher(gradgradcheck),
});

export {};
