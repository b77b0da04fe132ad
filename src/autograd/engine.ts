import { expectTensor, Tensor, type TensorLike } from '../tensor/tensor.js';
import { formatShape, sameShape } from '../tensor/shape.js';
import { findNonFinite } from './anomaly.js';
import { duringBackward, isAnomalyEnabled, noGrad, withGradEnabled } from './mode.js';
import type { GraphNode } from './op.js';
import { postOrder } from './traversal.js';
import { addInPlace, GradientBuffers } from './gradient-buffers.js';
import { checkOptions, describeValue } from '../validate.js';
import { noteHeldAsGrad } from '../tensor/tidy.js';

/*
 * Reverse-mode differentiation. Each node runs once every use of its output has sent its
 * gradient (counted first, see PendingUses; no recursion, so a chain of 400,000 ops cannot
 * overflow the call stack), gradients live in a map owned by the pass and are shape-checked as
 * they are added; only at the end are they handed out.
 */

export interface BackwardOptions {
  /** Record the backward pass as a graph so the gradients can be differentiated again. */
  createGraph?: boolean;
  /** Also fill `.grad` of every intermediate tensor (for pictures that show gradients). */
  retainGrads?: boolean;
}

export interface GradOptions {
  /** One gradient per output, same shape (a single tensor for a single output); defaults to 1 for scalar outputs. */
  gradOutputs?: TensorLike | readonly TensorLike[];
  createGraph?: boolean;
  /** Return zeros for an input the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/** Every tensor that requires grad and that the outputs depend on, inputs before the tensors made from them. */
function topologicalOrder(outputs: readonly Tensor[]): Tensor[] {
  return postOrder(outputs, (t) => t.requiresGrad);
}

/** The tensors from which some target can be reached: only their gradients are worth computing. */
function leadingTo(order: readonly Tensor[], targets: ReadonlySet<Tensor>): Set<Tensor> {
  const reaches = new Set<Tensor>();
  for (const t of order) {
    if (targets.has(t)) {
      reaches.add(t);
      continue;
    }
    const inputs = t.node?.inputs ?? [];
    for (let i = 0; i < inputs.length; i++) {
      if (reaches.has(inputs[i])) {
        reaches.add(t);
        break;
      }
    }
  }
  return reaches;
}

/** Which backward an error is about; written only when there is an error. */
const backwardOf = (node: GraphNode) => `backward of op '${node.op.name}' (label '${node.label}')`;

function checkGradient(node: GraphNode, index: number, grad: unknown, input: Tensor): asserts grad is Tensor {
  if (!(grad instanceof Tensor)) {
    throw new Error(`${backwardOf(node)} returned ${grad === null || grad === undefined ? 'no gradient' : typeof grad} for input ${node.inputName(index)}, which requires grad`);
  }
  if (!sameShape(grad.shape, input.shape)) {
    throw new Error(`${backwardOf(node)} returned a gradient of shape ${formatShape(grad.shape)} for input ${node.inputName(index)} of shape ${formatShape(input.shape)}`);
  }
  if (isAnomalyEnabled()) {
    const bad = findNonFinite(grad);
    if (bad) {
      const created = node.creationStack ? `\nThe op was created at:\n${node.creationStack}` : '';
      throw new Error(`detectAnomaly: ${backwardOf(node)} produced ${bad.value} in the gradient for input ${node.inputName(index)} (shape ${formatShape(input.shape)}) at index ${formatShape(bad.index)}${created}`);
    }
  }
}

/**
 * How many uses of each node's output have yet to send their gradient, during one pass. A node
 * runs when its count reaches zero (Kahn's order), so the pass needs no sorted list of the graph
 * and no deep stack: a chain of 400,000 ops is walked with a stack of one. The counts live on the
 * nodes, stamped with the pass's number; a pass started while another runs (a custom backward
 * calling grad() on a graph that may overlap the outer one) keeps them in a map instead.
 */
interface PendingUses {
  /** True the first time the pass meets `node`. */
  visit(node: GraphNode): boolean;
  addUse(node: GraphNode): void;
  /** One use has sent its gradient; true when none is left. */
  useDone(node: GraphNode): boolean;
  count(node: GraphNode): number;
}

let lastPass = 0;
let runningPasses = 0;

function countsOnNodes(): PendingUses {
  const pass = ++lastPass;
  return {
    visit(node) {
      if (node.backwardPass === pass) return false;
      node.backwardPass = pass;
      node.pendingUses = 0;
      return true;
    },
    addUse(node) { node.pendingUses++; },
    useDone(node) { return --node.pendingUses === 0; },
    count(node) { return node.pendingUses; },
  };
}

function countsInMap(): PendingUses {
  const counts = new Map<GraphNode, number>();
  const count = (node: GraphNode) => counts.get(node) ?? 0;
  return {
    visit(node) {
      if (counts.has(node)) return false;
      counts.set(node, 0);
      return true;
    },
    addUse(node) { counts.set(node, count(node) + 1); },
    useDone(node) {
      const left = count(node) - 1;
      counts.set(node, left);
      return left === 0;
    },
    count,
  };
}

/** The node that made `t`, when gradients flow through it. */
function recordedNode(t: Tensor): GraphNode | null {
  return t.requiresGrad ? t.node : null;
}

/**
 * Counts, for every node the outputs depend on, the uses of its output within that graph. True
 * when the graph has a leaf that requires grad and is not in `targets` (null: every tensor is one).
 */
function countUses(outputs: readonly Tensor[], uses: PendingUses, targets: ReadonlySet<Tensor> | null): boolean {
  let leafOutsideTargets = false;
  const walk: GraphNode[] = [];
  for (const output of outputs) {
    const node = recordedNode(output);
    if (node !== null && uses.visit(node)) walk.push(node);
  }
  for (let node = walk.pop(); node !== undefined; node = walk.pop()) {
    for (const input of node.inputs) {
      const inner = recordedNode(input);
      if (inner === null) {
        if (targets !== null && input.requiresGrad && !targets.has(input)) leafOutsideTargets = true;
        continue;
      }
      if (uses.visit(inner)) walk.push(inner);
      uses.addUse(inner);
    }
  }
  return leafOutsideTargets;
}

/**
 * Gradients of `outputs` (weighted by `gradOutputs`) with respect to every tensor in `targets`,
 * or every tensor that requires grad when `targets` is null.
 */
function differentiate(
  outputs: readonly Tensor[],
  gradOutputs: readonly Tensor[],
  targets: ReadonlySet<Tensor> | null,
  keep: (t: Tensor) => boolean,
  createGraph: boolean,
): Map<Tensor, Tensor> {
  /** The tensors whose gradients are worth computing; null: all (see countUses). */
  let needed: ReadonlySet<Tensor> | null = null;
  const grads = new Map<Tensor, Tensor>();
  // Reuse only in the outermost pass without createGraph (see gradient-buffers.ts).
  const buffers = createGraph || runningPasses > 0 ? null : new GradientBuffers();

  /** Adds `g` to t's gradient; `g` is already counted as a holder of its buffer (see sendGradient). */
  const accumulate = (t: Tensor, g: Tensor) => {
    const existing = grads.get(t);
    if (existing === undefined) {
      grads.set(t, g);
      return;
    }
    if (buffers !== null && existing.storage !== g.storage) {
      // Whichever of the two no one else holds takes the sum in place: no new buffer, no pass to fill one.
      const [into, from] = buffers.exclusive(existing) ? [existing, g] : buffers.exclusive(g) ? [g, existing] : [null, null];
      if (into !== null && from !== null) {
        addInPlace(into.storage, from.storage);
        grads.set(t, into);
        buffers.drop(from);
        return;
      }
    }
    const sum = existing.add(g);
    grads.set(t, sum);
    buffers?.adopt(sum);
    buffers?.drop(existing);
    buffers?.drop(g);
  };

  outputs.forEach((output, i) => {
    if (output.requiresGrad) accumulate(output, gradOutputs[i]);
  });

  const uses = runningPasses > 0 ? countsInMap() : countsOnNodes();
  runningPasses++;
  try {
    // A recorded tensor requires grad because an input does, so each leads to a leaf that does;
    // when every such leaf is a target (grad(y, [x, gamma, beta]) for all of y's), every tensor
    // leads to a target, and no second walk need find which. (A leaf switched off after recording
    // can leave a branch that leads nowhere: its gradients are then computed and not used.)
    if (countUses(outputs, uses, targets) && targets !== null) needed = leadingTo(topologicalOrder(outputs), targets);
    const ready: GraphNode[] = [];
    for (const output of outputs) {
      const node = recordedNode(output);
      // An output no other output uses is ready at once; addUse keeps it from being pushed twice.
      if (node !== null && uses.count(node) === 0) {
        ready.push(node);
        uses.addUse(node);
      }
    }
    duringBackward(() => withGradEnabled(createGraph, () => {
      for (let node = ready.pop(); node !== undefined; node = ready.pop()) {
        const t = node.output;
        const g = grads.get(t);
        if (g !== undefined) {
          sendGradient(node, g);
          // The gradient of t has been passed on; drop it unless someone wants it back.
          if (!keep(t)) {
            grads.delete(t);
            buffers?.drop(g);
          }
        }
        for (const input of node.inputs) {
          const inner = recordedNode(input);
          if (inner !== null && uses.useDone(inner)) ready.push(inner);
        }
      }
    }));
  } finally {
    runningPasses--;
  }
  return grads;

  function sendGradient(node: GraphNode, g: Tensor): void {
    const { inputs } = node;
    const needsInputGrad = new Array<boolean>(inputs.length);
    let anyNeeded = false;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      anyNeeded = (needsInputGrad[i] = input.requiresGrad && (needed === null || needed.has(input))) || anyNeeded;
    }
    if (!anyNeeded) return;
    node.checkSavedValues();
    const ctx = { inputs, output: node.output, attrs: node.attrs, needsInputGrad };
    const inputGrads = buffers === null ? node.op.backward(ctx, g) : buffers.run(node.op, g, ctx, grads);
    // Every gradient is checked before any is added (one a backward added in place is summed already).
    for (let i = 0; i < inputs.length; i++) if (needsInputGrad[i]) checkGradient(node, i, inputGrads[i], inputs[i]);
    for (let i = 0; i < inputs.length; i++) {
      if (needsInputGrad[i] && !(buffers !== null && buffers.wasAddedInPlace(i))) accumulate(inputs[i], inputGrads[i] as Tensor);
    }
  }
}

/**
 * Gives each handed-out gradient a buffer of its own. Pass-through gradients (add's, reshape's)
 * can leave two results, or a result and the caller's gradOutput, on one buffer, and a caller
 * who changes one in place must not change the other. With createGraph the results are graph
 * nodes and are handed out as they are.
 */
function exclusiveBuffers(seeds: readonly Tensor[], createGraph: boolean): (g: Tensor) => Tensor {
  if (createGraph) return (g) => g;
  const taken = new Set(seeds.map((seed) => seed.storage));
  return (g) => {
    const own = taken.has(g.storage) ? new Tensor(Float64Array.from(g.storage), g.shape) : g;
    taken.add(own.storage);
    return own;
  };
}

function seedGradient(output: Tensor, given: TensorLike | undefined, what: string): Tensor {
  if (given === undefined) {
    if (output.size !== 1) {
      throw new Error(`${what}: the output has shape ${formatShape(output.shape)}; a gradient for it can only be implied for a single-element output, so pass one of the same shape`);
    }
    return new Tensor(new Float64Array(1).fill(1), output.shape);
  }
  const g = typeof given === 'number' ? new Tensor(new Float64Array(output.size).fill(given), output.shape) : given;
  if (!(g instanceof Tensor)) throw new Error(`${what}: the gradient output must be a Tensor or a number, got ${typeof g}`);
  if (!sameShape(g.shape, output.shape)) {
    throw new Error(`${what}: the gradient output has shape ${formatShape(g.shape)} but the output has shape ${formatShape(output.shape)}`);
  }
  return g;
}

/** Accumulates d(output)/d(leaf) into `.grad` of every leaf that requires grad (PyTorch semantics). */
export function backward(output: Tensor, gradOutput?: TensorLike, options: BackwardOptions = {}): void {
  expectTensor('backward', 'output', output);
  if (!output.requiresGrad) {
    throw new Error('backward: the output does not require grad: no input it was computed from has requiresGrad: true (or it was computed inside noGrad)');
  }
  checkOptions('backward', options, ['retainGrads', 'createGraph']);
  const seed = seedGradient(output, gradOutput, 'backward');
  const createGraph = options.createGraph ?? false;
  const keep = (t: Tensor) => t.isLeaf || t.retainsGrad || options.retainGrads === true;
  const grads = differentiate([output], [seed], null, keep, createGraph);
  const handOut = exclusiveBuffers([seed], createGraph);
  const store = () => {
    for (const [t, g] of grads) {
      if (!keep(t)) continue;
      t.grad = t.grad === null ? handOut(g) : t.grad.add(g);
      noteHeldAsGrad(t.grad);
    }
  };
  if (createGraph) withGradEnabled(true, store);
  else noGrad(store);
}

function tensorList(argument: 'outputs' | 'inputs', value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (!Array.isArray(value)) throw new Error(`grad: ${argument} must be a Tensor or an array of Tensors, got ${describeValue(value)}`);
  value.forEach((t: unknown, i) => {
    if (!(t instanceof Tensor)) throw new Error(`grad: ${argument === 'outputs' ? 'output' : 'input'} ${i} must be a Tensor, got ${describeValue(t)}`);
  });
  return [...value] as Tensor[];
}

/**
 * The gradients of `outputs` with respect to `inputs`, without touching `.grad`
 * (like `torch.autograd.grad`). With `createGraph` the result can be differentiated again.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options: GradOptions = {}): Tensor[] {
  checkOptions('grad', options, ['gradOutputs', 'createGraph', 'allowUnused']);
  const outputList = tensorList('outputs', outputs);
  const inputList = tensorList('inputs', inputs);
  inputList.forEach((t, i) => {
    if (!t.requiresGrad) throw new Error(`grad: input ${i}${t.name ? ` (${t.name})` : ''} does not require grad`);
  });
  const given = options.gradOutputs === undefined || Array.isArray(options.gradOutputs) ? options.gradOutputs : [options.gradOutputs];
  if (given !== undefined && given.length !== outputList.length) {
    throw new Error(`grad: got ${given.length} gradOutputs for ${outputList.length} output(s)`);
  }
  const seeds = outputList.map((t, i) => seedGradient(t, given?.[i], 'grad'));
  const targets = new Set(inputList);
  const grads = differentiate(outputList, seeds, targets, (t) => targets.has(t), options.createGraph ?? false);
  const handOut = exclusiveBuffers(seeds, options.createGraph ?? false);
  return inputList.map((t, i) => {
    const g = grads.get(t);
    if (g !== undefined) return handOut(g);
    if (options.allowUnused) return new Tensor(new Float64Array(t.size), t.shape);
    throw new Error(`grad: the outputs do not depend on input ${i}${t.name ? ` (${t.name})` : ''}; pass allowUnused: true to get zeros`);
  });
}
