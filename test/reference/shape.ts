// Float64 references for shape ops and broadcasting, written from the definitions (index arithmetic on
// row-major arrays), independent of the engine's stride tricks.

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Multi-index of linear index i in shape (row-major). */
export function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return index;
}

/** Linear index of a multi-index in shape (row-major). */
export function ravel(index: readonly number[], shape: readonly number[]): number {
  return index.reduce((acc, v, d) => acc * shape[d] + v, 0);
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const sa = a[a.length - n + i] ?? 1;
    const sb = b[b.length - n + i] ?? 1;
    if (sa !== sb && sa !== 1 && sb !== 1) throw new Error(`reference: [${a}] and [${b}] do not broadcast`);
    return sa === 1 ? sb : sa;
  });
}

/** The element of `data` (of `shape`) that output multi-index `index` reads under broadcasting. */
export function broadcastRead(data: Float64Array, shape: readonly number[], index: readonly number[]): number {
  const lead = index.length - shape.length;
  return data[ravel(shape.map((s, d) => (s === 1 ? 0 : index[lead + d])), shape)];
}

export function expandRef(x: Float64Array, shape: readonly number[], to: readonly number[]): Float64Array {
  return Float64Array.from({ length: numel(to) }, (_, i) => broadcastRead(x, shape, unravel(i, to)));
}

export function permuteRef(x: Float64Array, shape: readonly number[], dims: readonly number[]): Float64Array {
  const outShape = dims.map((d) => shape[d]);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const index = unravel(i, outShape);
    const source = new Array<number>(shape.length);
    dims.forEach((d, k) => (source[d] = index[k]));
    out[i] = x[ravel(source, shape)];
  }
  return out;
}

export function narrowRef(x: Float64Array, shape: readonly number[], dim: number, start: number, length: number): Float64Array {
  const outShape = shape.map((s, d) => (d === dim ? length : s));
  return Float64Array.from({ length: numel(outShape) }, (_, i) => {
    const index = unravel(i, outShape);
    index[dim] += start;
    return x[ravel(index, shape)];
  });
}

export function catRef(parts: readonly Float64Array[], shapes: readonly (readonly number[])[], dim: number): Float64Array {
  const total = shapes.reduce((s, sh) => s + sh[dim], 0);
  const outShape = shapes[0].map((s, d) => (d === dim ? total : s));
  return Float64Array.from({ length: numel(outShape) }, (_, i) => {
    const index = unravel(i, outShape);
    let k = 0;
    while (index[dim] >= shapes[k][dim]) index[dim] -= shapes[k++][dim];
    return parts[k][ravel(index, shapes[k])];
  });
}

/** F.pad, constant mode, negative pads cropping. */
export function padRef(x: Float64Array, shape: readonly number[], pads: readonly number[], value: number): Float64Array {
  const before = shape.map((_, d) => pads[2 * (shape.length - 1 - d)] ?? 0);
  const after = shape.map((_, d) => pads[2 * (shape.length - 1 - d) + 1] ?? 0);
  const outShape = shape.map((s, d) => s + before[d] + after[d]);
  return Float64Array.from({ length: numel(outShape) }, (_, i) => {
    const index = unravel(i, outShape).map((v, d) => v - before[d]);
    return index.every((v, d) => v >= 0 && v < shape[d]) ? x[ravel(index, shape)] : value;
  });
}
