/**
 * Global recording state: whether ops are recorded, whether anomaly detection is on, and
 * the module scope ops are recorded under. Single-threaded JavaScript makes a module-level
 * flag safe; every setter restores the previous value in `finally`, so an exception inside
 * never leaves recording switched off.
 */
let gradEnabled = true;
let anomalyEnabled = false;
let currentScope: readonly string[] = [];

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

export function getScope(): readonly string[] {
  return currentScope;
}

function withFlag<T>(set: (value: boolean) => boolean, value: boolean, fn: () => T): T {
  const previous = set(value);
  try {
    return fn();
  } finally {
    set(previous);
  }
}

const setGrad = (value: boolean) => {
  const previous = gradEnabled;
  gradEnabled = value;
  return previous;
};

/** Runs `fn` with recording switched on or off (the backward pass uses this for `createGraph`). */
export function withGradEnabled<T>(enabled: boolean, fn: () => T): T {
  return withFlag(setGrad, enabled, fn);
}

/** Runs `fn` without recording any op, like `torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  return withFlag(setGrad, false, fn);
}

/**
 * Runs `fn` (forward and backward passes inside it) checking every op's output and every
 * gradient for NaN and infinity, throwing at the first op that produces one, like
 * `torch.autograd.detect_anomaly()`. Nodes created inside also remember where they were created.
 */
export function detectAnomaly<T>(fn: () => T): T {
  return withFlag(
    (value) => {
      const previous = anomalyEnabled;
      anomalyEnabled = value;
      return previous;
    },
    true,
    fn,
  );
}

/**
 * Records every op created inside `fn` under a named scope (a module such as `BatchNorm1d`),
 * so pictures can draw it as a box. Scopes nest: `['mlp', 'bn1']`.
 */
export function withScope<T>(name: string, fn: () => T): T {
  const previous = currentScope;
  currentScope = Object.freeze([...previous, name]);
  try {
    return fn();
  } finally {
    currentScope = previous;
  }
}
