import type { Tensor } from '../tensor/tensor.js';

/**
 * The tensors reachable from `roots` through `node.inputs`, each after the inputs it was
 * computed from, inputs taken in argument order; only tensors `include` accepts are visited.
 * An explicit stack, not recursion: a chain of 200,000 ops cannot overflow the call stack.
 * `seen` may be shared between calls to continue a walk without revisiting anything.
 */
export function postOrder(roots: readonly Tensor[], include: (t: Tensor) => boolean = () => true, seen = new Set<Tensor>()): Tensor[] {
  const order: Tensor[] = [];
  const stack: { tensor: Tensor; next: number }[] = [];
  for (const root of roots) {
    if (!include(root) || seen.has(root)) continue;
    seen.add(root);
    stack.push({ tensor: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = top.tensor.node?.inputs ?? [];
      if (top.next < inputs.length) {
        const input = inputs[top.next++];
        if (include(input) && !seen.has(input)) {
          seen.add(input);
          stack.push({ tensor: input, next: 0 });
        }
      } else {
        order.push(top.tensor);
        stack.pop();
      }
    }
  }
  return order;
}
