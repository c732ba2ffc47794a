// Float64 references for reductions: a direct loop over every input element, accumulating into the
// output element its kept indices select.
import { numel, ravel, unravel } from './shape.js';

/** Reduces `dims` (non-negative, any order) of x; the result lists kept dimensions in order. */
export function reduceRef(x: Float64Array, shape: readonly number[], dims: readonly number[], kind: 'sum' | 'mean' | 'max'): Float64Array {
  const keptShape = shape.filter((_, d) => !dims.includes(d));
  const out = new Float64Array(numel(keptShape)).fill(kind === 'max' ? -Infinity : 0);
  for (let i = 0; i < x.length; i++) {
    const o = ravel(unravel(i, shape).filter((_, d) => !dims.includes(d)), keptShape);
    out[o] = kind === 'max' ? Math.max(out[o], x[i]) : out[o] + x[i];
  }
  if (kind === 'mean') {
    const count = x.length / out.length;
    for (let o = 0; o < out.length; o++) out[o] /= count;
  }
  return out;
}
