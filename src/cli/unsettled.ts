/** What `settledOrStuck` gives for a promise that can never settle. */
export const NEVER_SETTLES: unique symbol = Symbol('never settles');

/**
 * What `value` settles to, or NEVER_SETTLES once the event loop has run empty while it is
 * still pending: with no timer, socket or file left to wait on, nothing can ever settle it.
 * Node would otherwise end with exit code 13 ("unsettled top-level await") and not a word a
 * user could act on. A promise waiting on something that never ends (a setInterval) is not
 * caught: that is a program still running, as an endless loop is.
 */
export function settledOrStuck<T>(value: T | Promise<T>): Promise<T | typeof NEVER_SETTLES> {
  return new Promise((resolve, reject) => {
    const onEmptyEventLoop = () => resolve(NEVER_SETTLES);
    process.once('beforeExit', onEmptyEventLoop);
    Promise.resolve(value).then(resolve, reject).finally(() => process.off('beforeExit', onEmptyEventLoop));
  });
}
