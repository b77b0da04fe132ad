/**
 * Global recording state: whether ops are recorded, whether anomaly detection is on, whether a
 * backward pass is running, and the module scope ops are recorded under. Single-threaded
 * JavaScript makes module-level state safe; `withState` restores the previous value in
 * `finally`, so an exception inside never leaves recording switched off.
 */

import { describeValue, expectFunction } from '../validate.js';

const state = {
  gradEnabled: true,
  anomalyEnabled: false,
  inBackward: false,
  scope: Object.freeze([]) as readonly string[],
};

function withState<K extends keyof typeof state, T>(key: K, value: (typeof state)[K], fn: () => T): T {
  const previous = state[key];
  state[key] = value;
  try {
    return fn();
  } finally {
    state[key] = previous;
  }
}

export function isGradEnabled(): boolean {
  return state.gradEnabled;
}

export function isAnomalyEnabled(): boolean {
  return state.anomalyEnabled;
}

/**
 * Inside a backward pass, anomaly detection checks each finished gradient (naming the op whose
 * backward produced it) instead of the ops that compute it, which would blame a `div` for sqrt's.
 */
export function shouldCheckOutputs(): boolean {
  return state.anomalyEnabled && !state.inBackward;
}

export function getScope(): readonly string[] {
  return state.scope;
}

/** Runs `fn` with recording switched on or off (the backward pass uses this for `createGraph`). */
export function withGradEnabled<T>(enabled: boolean, fn: () => T): T {
  return withState('gradEnabled', enabled, fn);
}

/** Runs `fn` without recording any op, like `torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  expectFunction('noGrad', 'fn', fn);
  return withState('gradEnabled', false, fn);
}

let backwardPasses = 0;

export function duringBackward<T>(fn: () => T): T {
  backwardPasses++;
  return withState('inBackward', true, fn);
}

/** How many backward passes have begun: gradcheck tells by it whether a function differentiates inside. */
export function backwardPassCount(): number {
  return backwardPasses;
}

/**
 * Runs `fn` (forward and backward passes inside it) checking every op's output and every
 * gradient for NaN and infinity, throwing at the first op that produces one, like
 * `torch.autograd.detect_anomaly()`. Nodes created inside also remember where they were created.
 */
export function detectAnomaly<T>(fn: () => T): T {
  expectFunction('detectAnomaly', 'fn', fn);
  return withState('anomalyEnabled', true, fn);
}

/**
 * Records every op created inside `fn` under a named scope (a module such as `BatchNorm1d`),
 * so pictures can draw it as a box. Scopes nest: `['mlp', 'bn1']`.
 */
export function withScope<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || name === '') throw new Error(`withScope: name must be a non-empty string, got ${describeValue(name)}`);
  expectFunction('withScope', 'fn', fn);
  return withState('scope', Object.freeze([...state.scope, name]), fn);
}

/** One map per running `restoringBuffers`: each buffer written inside, and its values before. */
const bufferSnapshots: Map<Float64Array, Float64Array>[] = [];

/**
 * Modules call this before writing one of their buffers in place (BatchNorm's running
 * statistics), so that `restoringBuffers` can put the values back. Costs nothing otherwise.
 */
export function beforeBufferWrite(buffer: Float64Array): void {
  for (const snapshot of bufferSnapshots) {
    if (!snapshot.has(buffer)) snapshot.set(buffer, Float64Array.from(buffer));
  }
}

/**
 * Runs `fn`, then restores bit for bit every buffer written inside it (also when it throws):
 * a gradient check calls the user's function dozens of times, and none of those calls is a
 * training step.
 */
export function restoringBuffers<T>(fn: () => T): T {
  const snapshot = new Map<Float64Array, Float64Array>();
  bufferSnapshots.push(snapshot);
  try {
    return fn();
  } finally {
    bufferSnapshots.splice(bufferSnapshots.indexOf(snapshot), 1);
    for (const [buffer, before] of snapshot) buffer.set(before);
  }
}
