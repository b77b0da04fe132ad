import { Tensor } from '../tensor/tensor.js';
import { guardZeroVariance } from './layout.js';

/*
 * The step vocabulary every normalization here is drawn with (BN, LayerNorm, GroupNorm,
 * InstanceNorm, RMSNorm): each step is a labelled op node with a named output, so their
 * pictures line up step for step and differ only in the axes the statistics are taken over.
 */

/** The label of the node that adds eps, between 'variance' and 'sqrt': part of the sqrt step. */
export const ADD_EPS_LABEL = 'add ε';

/** Names a step's tensor and labels the node that produced it (absent when nothing was recorded). */
export function step(t: Tensor, label: string, name: string): Tensor {
  t.name = name;
  return t.node ? t.withLabel(label) : t;
}

/** x̂ = (x − μ) / √(σ² + ε): the 'sqrt' (with 'add ε') and 'divide' steps. */
export function divideByStd(centered: Tensor, variance: Tensor, eps: number, names = { plusEps: 'σ² + ε', std: 'σ' }): Tensor {
  // ε as a named constant, so pictures label it rather than show a bare number.
  const epsilon = new Tensor(Float64Array.of(eps), [], { name: 'ε' });
  // With eps = 0 a constant channel would divide 0 by 0; guarded, it normalizes to 0 as in PyTorch.
  const { safe, zeroed } = guardZeroVariance(step(variance.add(epsilon), ADD_EPS_LABEL, names.plusEps));
  const std = step(safe.sqrt(), 'sqrt', names.std);
  if (!std.node && variance.isBuffer) {
    // In eval mode nothing records σ: it is computed from the running variance alone, so a
    // picture shows it as the module state it is, named by how it is made.
    std.isBuffer = true;
    std.name = `√(${variance.name ?? 'running variance'} + ε)`;
  }
  return step(zeroed(centered.div(std)), 'divide', 'x̂');
}

/**
 * γ·x̂ + β: the 'scale' and 'shift' steps, skipped where gamma or beta is null. `along` shapes a
 * parameter to broadcast against x̂; it is called only when the step is taken.
 */
export function scaleShift(normalized: Tensor, gamma: Tensor | null, beta: Tensor | null, along: (parameter: Tensor) => Tensor = (p) => p): Tensor {
  const scaled = gamma === null ? normalized : step(normalized.mul(along(gamma)), 'scale', 'γ·x̂');
  return beta === null ? scaled : step(scaled.add(along(beta)), 'shift', 'y');
}
