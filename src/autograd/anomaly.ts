import type { Tensor } from '../tensor/tensor.js';
import { unravelIndex } from '../tensor/shape.js';

/** The first NaN or infinite element of a tensor, or null when all are finite. */
export function findNonFinite(t: Tensor): { value: string; index: number[] } | null {
  const { data } = t;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return { value: String(v), index: unravelIndex(i, t.shape) };
  }
  return null;
}
