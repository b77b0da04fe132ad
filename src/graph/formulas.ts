import { chainRuleFormula, wrapCompound, type FormulaNames, type GradientFormula, type GraphNode } from '../autograd/op.js';
import { broadcastAxes, broadcastsTo } from '../tensor/shape.js';
import { sizeSymbols } from './labels.js';

/*
 * The local gradients a picture writes on the backward edges, from each op's `formula` (op.ts)
 * and the names the picture gives the forward tensors. Sums over broadcast axes are written
 * Σ with the axes as a subscript: Σₙ over the axis of size N, Σ₀ over axis 0 when it has no letter.
 */

const SUBSCRIPTS: Readonly<Record<string, string>> = {
  a: 'ₐ', e: 'ₑ', h: 'ₕ', i: 'ᵢ', j: 'ⱼ', k: 'ₖ', l: 'ₗ', m: 'ₘ', n: 'ₙ', o: 'ₒ', p: 'ₚ', r: 'ᵣ', s: 'ₛ', t: 'ₜ', u: 'ᵤ', v: 'ᵥ', x: 'ₓ',
  0: '₀', 1: '₁', 2: '₂', 3: '₃', 4: '₄', 5: '₅', 6: '₆', 7: '₇', 8: '₈', 9: '₉',
};

/** `Σₙ`; a letter with no subscript form (D) is written `Σ_D`. */
function sigma(subscript: string): string {
  const chars = [...subscript.toLowerCase()];
  return chars.every((c) => c in SUBSCRIPTS) ? `Σ${chars.map((c) => SUBSCRIPTS[c]).join('')}` : `Σ_${subscript}`;
}

/** `∂L/∂σ`, with parentheses around a compound name: `∂L/∂(x − μ)`. */
export function gradientName(label: string): string {
  return `∂L/∂${wrapCompound(label)}`;
}

export interface FormulaContext {
  readonly inputs: readonly { readonly label: string; readonly shape: readonly number[] }[];
  readonly output: { readonly label: string; readonly shape: readonly number[] };
  readonly dims: Readonly<Record<string, number>>;
}

/** `Σₙ ` for these axes of `shape` (letters from `dims`, else axis numbers), '' for none. */
function sumOverAxes(axes: readonly number[], shape: readonly number[], dims: Readonly<Record<string, number>>): string {
  if (axes.length === 0) return '';
  const symbol = sizeSymbols(dims);
  const letters = axes.map((axis) => symbol(shape[axis] ?? 1));
  const named = letters.every((letter) => /^\p{L}$/u.test(letter));
  return `${sigma(named ? letters.join('') : axes.join(''))} `;
}

/**
 * The right-hand side of `∂L/∂input = …` for each input of the op that `node` recorded. An op
 * whose formula throws or returns the wrong count is named in the error.
 */
export function localGradients(node: GraphNode, context: FormulaContext): string[] {
  const { inputs, output, dims } = context;
  const names: FormulaNames = {
    inputs: inputs.map((input) => wrapCompound(input.label)),
    output: wrapCompound(output.label),
    plain: { inputs: inputs.map((input) => input.label), output: output.label },
    grad: gradientName(output.label),
    sum: inputs.map((input) => (broadcastsTo(input.shape, output.shape) ? sumOverAxes(broadcastAxes(input.shape, output.shape), output.shape, dims) : '')),
    sumOver: (axes) => sumOverAxes(axes, output.shape, dims),
    size: sizeSymbols(dims),
  };
  // A graph built by an older copy of gradgraph (a user's module imports its own) has ops without formulas.
  const formula: GradientFormula<unknown> = node.op.formula ?? chainRuleFormula;
  const formulas = formula(names, node.attrs);
  if (!Array.isArray(formulas) || formulas.length !== inputs.length || !formulas.every((f) => typeof f === 'string')) {
    throw new Error(`formula of op '${node.op.name}' must return one string per input (${inputs.length}), got ${JSON.stringify(formulas)}`);
  }
  return formulas;
}
