import type { PictureGraph } from './collapse.js';
import type { ResolvedOptions } from './dot.js';
import { attributeList, COLORS, opLook, quote, tensorLook, type Attributes } from './style.js';
import type { TensorRole } from './trace.js';

/*
 * The key to a picture: a box of sample nodes and edges, only for what the picture contains,
 * stacked in a column beside the graph whichever way it runs.
 */

const ROLE_NAMES: Readonly<Record<TensorRole, string>> = {
  input: 'data (an input)',
  parameter: 'parameter (learned)',
  buffer: 'buffer (module state,\nnot learned)',
  constant: 'constant',
  intermediate: 'intermediate',
  output: 'output',
};
const ROLE_ORDER: readonly TensorRole[] = ['input', 'parameter', 'buffer', 'constant', 'intermediate', 'output'];

/** What the picture contains, so the key explains nothing that is not there. */
function contents(graph: PictureGraph) {
  const roles = new Set<TensorRole>();
  let hasOps = false;
  let hasModules = false;
  let hasSums = false;
  let hasParts = false;
  let hasRecorded = false;
  graph.forEachNode((key, a) => {
    if (a.kind !== 'module' && a.phase === 'backward') hasRecorded = true;
    if (a.kind === 'tensor' && a.phase === 'forward') {
      roles.add(a.role);
      if (a.requiresGrad && graph.outDegree(key) > 1) hasParts = true;
    }
    if (a.kind === 'op' && a.phase === 'forward') {
      hasOps = true;
      if (a.formulas.some((f) => f.includes('Σ'))) hasSums = true;
    }
    if (a.kind === 'module') hasModules = true;
  });
  return { roles, hasOps, hasModules, hasSums, hasParts, hasRecorded };
}

/** The notes under the samples: what the numbers, sums and ∇ lines mean. */
function notes(o: ResolvedOptions, found: ReturnType<typeof contents>): string[] {
  const lines: string[] = [];
  if (o.steps && found.hasOps) lines.push('n. on a step: its place in the forward pass');
  if (o.backward === 'edges') {
    lines.push(o.steps ? '(n) ∂L/∂t = …: backward step n, and the\nlocal gradient it passes back to t' : '∂L/∂t = …: the local gradient a step\npasses back to t');
    if (found.hasSums) lines.push('Σₙ: summed over the axis of size N,\nalong which the step broadcast t');
    if (found.hasParts) lines.push('+=: t feeds several steps; its gradient\nis the sum of their parts');
  }
  if (o.grads !== 'none') lines.push('∇ lines: the gradient ∂L/∂t after backward()');
  return lines;
}

export function legendStatements(graph: PictureGraph, o: ResolvedOptions): string[] {
  const found = contents(graph);
  const items: [string, Attributes][] = [];
  for (const role of ROLE_ORDER) {
    if (found.roles.has(role)) items.push([`legend_${role}`, { ...tensorLook(role, 'forward'), fontsize: undefined, label: ROLE_NAMES[role] }]);
  }
  if (found.hasOps) items.push(['legend_op', { ...opLook('forward'), label: o.steps ? 'n. step (an op)' : 'step (an op)' }]);
  if (found.hasRecorded) {
    items.push(['legend_backward_tensor', { ...tensorLook('intermediate', 'backward'), label: 'gradient, recorded\nby the backward pass' }]);
    items.push(['legend_backward_op', { ...opLook('backward'), label: 'backward op' }]);
  }
  if (found.hasModules) items.push(['legend_module', { shape: 'box3d', style: 'filled', fillcolor: COLORS.module.fill, color: COLORS.module.line, label: 'module, collapsed' }]);
  const sample = { shape: 'plaintext', fontsize: 9, height: 0.2 } as const;
  const lines = ['  subgraph "cluster_legend" {', `    graph${attributeList({ label: 'Legend', style: 'rounded', color: COLORS.cluster, fontcolor: '#444444', labeljust: 'l' })};`];
  const chain: string[] = [];
  for (const [key, attributes] of items) {
    lines.push(`    ${quote(key)}${attributeList(attributes)};`);
    chain.push(key);
  }
  // A forward edge and a gradient edge, each between two words saying what they join.
  lines.push(`    "legend_from"${attributeList({ ...sample, label: 'tensor' })};`, `    "legend_to"${attributeList({ ...sample, label: 'step' })};`);
  lines.push(`    "legend_from" -> "legend_to"${attributeList({ label: 'forward: feeds' })};`);
  chain.push('legend_from', 'legend_to');
  if (o.backward === 'edges') {
    lines.push(`    "legend_grad_from"${attributeList({ ...sample, label: 'tensor' })};`, `    "legend_grad_to"${attributeList({ ...sample, label: 'step' })};`);
    lines.push(`    "legend_grad_from" -> "legend_grad_to"${attributeList({ dir: 'back', style: 'dashed', color: COLORS.gradient, fontcolor: COLORS.gradient, label: 'gradient: ∂L/∂t\npassed back' })};`);
    chain.push('legend_grad_from', 'legend_grad_to');
  }
  if (o.backward === 'recorded') {
    lines.push(`    "legend_grad_from"${attributeList({ ...sample, label: 't' })};`, `    "legend_grad_to"${attributeList({ ...sample, label: '∂L/∂t' })};`);
    lines.push(`    "legend_grad_from" -> "legend_grad_to"${attributeList({ dir: 'back', style: 'dotted', color: COLORS.gradient, fontcolor: COLORS.gradient, label: 'is the gradient of' })};`);
    chain.push('legend_grad_from', 'legend_grad_to');
  }
  const text = notes(o, found);
  if (text.length > 0) {
    lines.push(`    "legend_notes"${attributeList({ shape: 'plaintext', fontsize: 9, label: text.join('\n') })};`);
    chain.push('legend_notes');
  }
  // Top to bottom, invisible edges stack the items in a column; left to right, one rank does.
  const column = chain.filter((key) => key !== 'legend_to' && key !== 'legend_grad_to');
  if (o.direction === 'LR') {
    lines.push(`    { rank="same"; ${column.map(quote).join('; ')}; }`);
    // Invisible edges order a rank; left to right, Graphviz puts an edge's head above its tail.
    for (let i = 1; i < column.length; i++) lines.push(`    ${quote(column[i])} -> ${quote(column[i - 1])} [style="invis"];`);
    // The graph's first input one column further right, so the key stands beside the graph, not above it.
    const first = graph.findNode((key) => graph.inDegree(key) === 0);
    // From the sample edges' heads, a column right of the key's own: the box must not reach x.
    const heads = chain.filter((key) => !column.includes(key));
    if (first !== undefined) for (const head of heads) lines.push(`    ${quote(head)} -> ${quote(first)} [style="invis"];`);
  } else {
    for (let i = 1; i < chain.length; i++) {
      const [from, to] = [chain[i - 1], chain[i]];
      // The sample edges join their own pair; only the links between items are invisible.
      if ((from === 'legend_from' && to === 'legend_to') || (from === 'legend_grad_from' && to === 'legend_grad_to')) continue;
      lines.push(`    ${quote(from)} -> ${quote(to)} [style="invis"];`);
    }
  }
  lines.push('  }');
  return lines;
}
