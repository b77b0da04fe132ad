import { Tensor } from '../tensor/tensor.js';
import { collectAllocations, releaseValues } from '../tensor/allocation.js';
import { isCustomOp, type BackwardContext, type InputGradients, type OpDefinition } from './op.js';

/*
 * Which gradient buffers of one backward pass no one outside the pass can see, so that the pass
 * may add into them in place and give them back to the pool (allocation.ts) once the last
 * gradient holding them is gone. JavaScript has no destructors, so this is proved, not hoped:
 *
 * - A buffer is *fresh* when it was allocated during the pass by a library op's backward (which
 *   is a pure function of its inputs and the gradient: it keeps nothing) and that backward
 *   returned it as a gradient, or when the pass made it itself (a sum). Seeds (the caller's
 *   gradOutputs), forward tensors, and whatever a defineOp backward returns are never fresh.
 * - A fresh buffer counts its *holders*: the gradients of tensors in the pass's map that are it,
 *   plus those just returned and about to be added. Pass-through gradients (add's, reshape's)
 *   give one buffer to several tensors; that is what the count sees (the shared-buffer bug:
 *   v.grad came out [107, 108, 109] instead of [7, 8, 9]).
 * - With one holder, the holder may write into it (a sum in place). With none, it goes back to
 *   the pool. Buffers a library backward allocated and did not return (its temporaries) go back
 *   at once.
 * - A gradient handed to a defineOp backward escapes: the user's code may keep it, so it is
 *   never written or reused afterwards.
 *
 * The engine uses this only for the outermost pass without createGraph: a recorded backward's
 * gradients are graph nodes someone may hold, and a pass inside another (a backward calling
 * grad()) leaves all reuse to the outer one.
 */
export class GradientBuffers {
  private readonly fresh = new Set<Float64Array>();
  private readonly holders = new Map<Float64Array, number>();
  /** What the library backward running now has allocated. */
  private readonly made = new Set<Float64Array>();

  /** Runs `op`'s backward, noting which of the gradients it returns are fresh, and counting them as held. */
  run<Attrs>(op: OpDefinition<Attrs>, g: Tensor, ctx: BackwardContext<Attrs>): InputGradients {
    const custom = isCustomOp(op as OpDefinition<never>);
    if (custom) this.escape(g);
    const { needsInputGrad } = ctx;
    const grads = collectAllocations(custom ? null : this.made, () => op.backward(ctx, g));
    for (let i = 0; i < grads.length; i++) {
      const grad = grads[i];
      if (!needsInputGrad[i] || !(grad instanceof Tensor)) continue;
      if (this.made.has(grad.storage)) this.fresh.add(grad.storage);
      this.hold(grad);
    }
    // (Set.clear allocates a new table even when empty: a long chain of small ops makes none.)
    if (this.made.size > 0) {
      for (const storage of this.made) if (!this.fresh.has(storage)) releaseValues(storage);
      this.made.clear();
    }
    return grads;
  }

  /** A sum the pass allocated for a tensor's gradient: held by that tensor only. */
  adopt(sum: Tensor): void {
    this.fresh.add(sum.storage);
    this.hold(sum);
  }

  /** True when `g`'s buffer is fresh and `g` its only holder: it may be written in place. */
  exclusive(g: Tensor): boolean {
    return this.holders.get(g.storage) === 1;
  }

  /** One holder of `g`'s buffer let go of it; the last gives a fresh buffer back to the pool. */
  drop(g: Tensor): void {
    const storage = g.storage;
    const count = this.holders.get(storage);
    if (count === undefined) return;
    if (count > 1) {
      this.holders.set(storage, count - 1);
      return;
    }
    this.holders.delete(storage);
    this.fresh.delete(storage);
    releaseValues(storage);
  }

  private hold(g: Tensor): void {
    const storage = g.storage;
    if (this.fresh.has(storage)) this.holders.set(storage, (this.holders.get(storage) ?? 0) + 1);
  }

  /** `g` was shown to code that may keep it: never write into it or reuse it. */
  private escape(g: Tensor): void {
    this.fresh.delete(g.storage);
    this.holders.delete(g.storage);
  }
}

/** target += source, elementwise. */
export function addInPlace(target: Float64Array, source: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}
