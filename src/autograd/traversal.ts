import type { Tensor } from '../tensor/tensor.js';

/**
 * The tensors reachable from `roots` through `node.inputs`, each after the inputs it was
 * computed from, inputs taken in argument order; only tensors `include` accepts are visited.
 * An explicit stack, not recursion: a chain of 200,000 ops cannot overflow the call stack.
 * `seen` may be shared between calls to continue a walk without revisiting anything.
 */
export function postOrder(roots: readonly Tensor[], include: (t: Tensor) => boolean = () => true, seen = new Set<Tensor>()): Tensor[] {
  const order: Tensor[] = [];
  // The stack as two arrays, a tensor and how many of its inputs were visited: a chain's walk
  // is as deep as the chain, and an object per level would cost 40 bytes more per op.
  const stack: Tensor[] = [];
  const next: number[] = [];
  for (const root of roots) {
    if (!include(root) || seen.has(root)) continue;
    seen.add(root);
    stack.push(root);
    next.push(0);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const inputs = stack[top].node?.inputs;
      if (inputs !== undefined && next[top] < inputs.length) {
        const input = inputs[next[top]++];
        if (include(input) && !seen.has(input)) {
          seen.add(input);
          stack.push(input);
          next.push(0);
        }
      } else {
        order.push(stack[top]);
        stack.pop();
        next.pop();
      }
    }
  }
  return order;
}
