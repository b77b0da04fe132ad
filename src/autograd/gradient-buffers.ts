import { Tensor } from '../tensor/tensor.js';
import { collectAllocations, releaseValues } from '../tensor/allocation.js';
import { isAnomalyEnabled } from './mode.js';
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
 * - A library backward may add its gradient for an input straight into that input's gradient so
 *   far, when that buffer is fresh with the input its only holder (`gradientToAddInto`): the sum
 *   the engine would make in place anyway, without writing the addend to a buffer of its own
 *   first. Never offered to a defineOp backward, nor under detectAnomaly (which checks each
 *   addend before it is added).
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

  /** The backward running now, and the pass's gradients so far: what `gradientToAddInto` offers from. */
  private offeredTo: object | null = null;
  private soFar: ReadonlyMap<Tensor, Tensor> | null = null;
  /** Bit i: the backward that ran last added input i's gradient into its gradient so far. */
  private addedInPlace = 0;

  /**
   * Runs `op`'s backward, noting which of the gradients it returns are fresh, and counting them
   * as held. `soFar` is the pass's gradients until now, which the backward may add into.
   */
  run<Attrs>(op: OpDefinition<Attrs>, g: Tensor, ctx: BackwardContext<Attrs>, soFar: ReadonlyMap<Tensor, Tensor>): InputGradients {
    const custom = isCustomOp(op as OpDefinition<never>);
    if (custom) this.escape(g);
    const { needsInputGrad } = ctx;
    const outer = running;
    running = custom || isAnomalyEnabled() ? null : this;
    this.offeredTo = ctx;
    this.soFar = soFar;
    this.addedInPlace = 0;
    let grads: InputGradients;
    try {
      grads = collectAllocations(custom ? null : this.made, () => op.backward(ctx, g));
    } finally {
      running = outer;
      this.offeredTo = null;
      this.soFar = null;
    }
    for (let i = 0; i < grads.length; i++) {
      const grad = grads[i];
      // A gradient added in place is its input's gradient so far, already held.
      if (!needsInputGrad[i] || !(grad instanceof Tensor) || this.wasAddedInPlace(i)) continue;
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

  /** True when the backward that ran last added input `index`'s gradient in place: the engine must not add it again. */
  wasAddedInPlace(index: number): boolean {
    return (this.addedInPlace & (1 << index)) !== 0;
  }

  /** See `gradientToAddInto`. */
  offer<Attrs>(ctx: BackwardContext<Attrs>, index: number): Tensor | null {
    if (ctx !== this.offeredTo || this.soFar === null || index > 30) return null;
    const { inputs } = ctx;
    const input = inputs[index];
    // A tensor that is two of the inputs (x·x) gets two gradients: it is offered to neither.
    if (inputs.indexOf(input) !== index || inputs.lastIndexOf(input) !== index) return null;
    const soFar = this.soFar.get(input);
    if (soFar === undefined || !this.exclusive(soFar)) return null;
    this.addedInPlace |= 1 << index;
    return soFar;
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

/** The GradientBuffers whose `run` is running a backward that may be offered a gradient to add into. */
let running: GradientBuffers | null = null;

/**
 * For a library op's backward: input `index`'s gradient so far, when the backward may add its
 * own gradient for that input into it in place (fresh, and held by that input alone), else null.
 * A backward that takes it must add into it and return it as that input's gradient; the engine
 * then counts it as summed. Null outside a pass that reuses buffers, as for a defineOp backward.
 */
export function gradientToAddInto<Attrs>(ctx: BackwardContext<Attrs>, index: number): Tensor | null {
  return running === null ? null : running.offer(ctx, index);
}

/** target += source, elementwise; four per turn (see fourAtATime in ops/kernels.ts). */
export function addInPlace(target: Float64Array, source: Float64Array): void {
  const n = target.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    target[i] += source[i];
    target[i + 1] += source[i + 1];
    target[i + 2] += source[i + 2];
    target[i + 3] += source[i + 3];
  }
  for (; i < n; i++) target[i] += source[i];
}
