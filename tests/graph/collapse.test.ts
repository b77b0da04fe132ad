import { describe, expect, it } from 'vitest';
import { collapseRepeats, randn, toDot, trace, withScope, type Tensor } from 'gradgraph';
import { hasCycle } from 'graphology-dag';

/** A scope holding `x @ W + b` then tanh, with its own parameters of the given width. */
function block(name: string, x: Tensor, width: number, seed: number): Tensor {
  return withScope(name, () => {
    const w = randn([x.shape[1], width], { seed, name: 'W', isParameter: true });
    const b = randn([width], { seed: seed + 1, name: 'b', isParameter: true });
    return x.matmul(w).add(b).tanh();
  });
}

function stack(widths: readonly number[]): Tensor {
  const x = randn([2, 3], { seed: 1, name: 'x' });
  const out = withScope('Sequential', () => widths.reduce((h, width, i) => block(`block${i + 1}: Block`, h, width, 10 * i), x));
  out.name = 'out';
  return out;
}

const scopesOf = (graph: ReturnType<typeof trace>) => [...new Set(graph.mapNodes((_, a) => a.scope.join(' / ')))];

describe('collapseRepeats', () => {
  it('draws a run of identical blocks once, in a box marked ×N, entered and left as the run was', () => {
    const graph = collapseRepeats(trace(stack([3, 3, 3])));
    expect(scopesOf(graph)).toEqual(['', 'Sequential / Block ×3']);
    // One block: W, b, three ops and their results; and x.
    expect(graph.filterNodes((_, a) => a.kind === 'op').length).toBe(3);
    expect(graph.order).toBe(9);
    expect(hasCycle(graph.toGraphology())).toBe(false);
    const [output] = graph.getAttribute('outputs');
    expect(graph.getNodeAttributes(output)).toMatchObject({ kind: 'tensor', role: 'output' });
    expect(graph.inDegree(graph.filterNodes((_, a) => a.kind === 'tensor' && a.label === 'x')[0])).toBe(0);
  });

  it('keeps blocks that differ, and collapses only the runs of equal ones', () => {
    // block1 maps 3 → 4, block2 and block3 4 → 4, block4 4 → 2.
    const graph = collapseRepeats(trace(stack([4, 4, 4, 2])));
    expect(scopesOf(graph)).toEqual(['', 'Sequential / block1: Block', 'Sequential / Block ×2', 'Sequential / block4: Block']);
    expect(collapseRepeats(trace(stack([4, 5, 6])))).toEqual(expect.objectContaining({ order: trace(stack([4, 5, 6])).order }));
  });

  it('is a toDot option, off by default', () => {
    const y = stack([3, 3]);
    expect(toDot(y, { repeats: true })).toContain('label="Block ×2"');
    expect(toDot(y)).not.toContain('×2');
  });
});
