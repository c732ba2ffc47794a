/**
 * Layout helpers shared by the strided kernels (elementwise broadcasting, reductions, strided copies)
 * and matmul's batch dimensions: dimension normalisation, broadcasting of two shapes, merging of dimensions that every operand walks as one, and packing of
 * per-dimension sizes and strides into the kernels' fixed-size uniform arrays.
 */

/** Dimensions a strided kernel's uniforms hold per operand (two vec4<u32>). */
export const MAX_DIMS = 8;

/** `dim` in [-ndim, ndim) as a non-negative index, as PyTorch wraps it. */
export function normalizeDim(dim: number, ndim: number, op: string): number {
  if (!Number.isInteger(dim) || dim < -ndim || dim >= ndim) {
    const range = ndim === 0 ? 'none: the tensor is 0-D' : `expected ${-ndim}..${ndim - 1}`;
    throw new Error(`${op}: dimension ${dim} out of range for a ${ndim}-D tensor (${range})`);
  }
  return dim < 0 ? dim + ndim : dim;
}

/**
 * The shape `a` and `b` broadcast to, by PyTorch's rules: aligned on the right (missing leading sizes
 * count as 1), each pair of sizes equal or one of them 1. `operands` names the two in the error.
 */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  op: string,
  operands = `shapes [${a}] and [${b}]`,
): number[] {
  const n = Math.max(a.length, b.length);
  const shape = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const sa = a[a.length - n + i] ?? 1;
    const sb = b[b.length - n + i] ?? 1;
    if (sa !== sb && sa !== 1 && sb !== 1) {
      throw new Error(
        `${op}: ${operands} cannot be broadcast together ` +
          `(size ${sa} vs ${sb} at dimension ${i} of the aligned ${n}-D shape; each pair must be equal or contain a 1)`,
      );
    }
    shape[i] = sa === 1 ? sb : sa;
  }
  return shape;
}

/** Whether `shape` broadcasts to `target` itself (torch.Tensor.expand's rule): aligned on the right, each
 *  size of `shape` 1 or equal to the target's. */
export function broadcastsTo(shape: readonly number[], target: readonly number[]): boolean {
  const lead = target.length - shape.length;
  return lead >= 0 && shape.every((s, i) => s === 1 || s === target[lead + i]);
}

export interface Walk {
  shape: number[];
  /** One stride list per operand, each as long as `shape`. */
  strides: number[][];
}

/**
 * Drops size-1 dimensions and merges each dimension into the one before it when every operand steps
 * over the pair as over one longer dimension (outer stride = inner stride * inner size). Elements are
 * visited in the same order with fewer dimensions, so kernels loop and divide less.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Walk {
  const merged: Walk = { shape: [], strides: strides.map(() => []) };
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    const last = merged.shape.length - 1;
    if (last >= 0 && strides.every((s, k) => merged.strides[k][last] === s[d] * size)) {
      merged.shape[last] *= size;
      strides.forEach((s, k) => (merged.strides[k][last] = s[d]));
    } else {
      merged.shape.push(size);
      strides.forEach((s, k) => merged.strides[k].push(s[d]));
    }
  }
  return merged;
}

/** `values` padded with zeros to MAX_DIMS entries, for an `array<vec4<u32>, 2>` uniform. */
export function dimsUniform(values: readonly number[], op: string): number[] {
  if (values.length > MAX_DIMS) {
    throw new Error(`${op}: needs ${values.length} dimensions after merging, more than the ${MAX_DIMS} its kernel takes`);
  }
  return [...values, ...new Array<number>(MAX_DIMS - values.length).fill(0)];
}
