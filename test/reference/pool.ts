// Float64 references for pooling, written from PyTorch's CPU kernels (ATen's Pool.h, MaxPoolKernel.cpp,
// AvgPoolKernel.cpp, AdaptiveAvgPoolKernel.cpp), independent of our shaders: forwards over windows, and the
// max-pool gradient by scattering each output's gradient to its argmax (our kernel gathers instead). The
// other gradients are checked by finite differences of these forwards.

export type Shape4 = readonly [number, number, number, number];

export interface WindowRef {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
}

export function pairOf(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** pooling_output_shape (dilation 1). */
function outLength(size: number, k: number, s: number, p: number, ceil: boolean): number {
  const out = Math.floor((size + 2 * p - k + (ceil ? s - 1 : 0)) / s) + 1;
  return ceil && (out - 1) * s >= size + p ? out - 1 : out;
}

export function poolOutShape([n, c, h, w]: Shape4, win: WindowRef): Shape4 {
  return [
    n,
    c,
    outLength(h, win.kernel[0], win.stride[0], win.padding[0], win.ceilMode),
    outLength(w, win.kernel[1], win.stride[1], win.padding[1], win.ceilMode),
  ];
}

/** Visits every output (plane p, oh, ow) with the window's unclipped start and its flat output index. */
function forEachWindow(shape: Shape4, win: WindowRef, visit: (p: number, h0: number, w0: number, o: number) => void): void {
  const out = poolOutShape(shape, win);
  let o = 0;
  for (let p = 0; p < shape[0] * shape[1]; p++) {
    for (let oh = 0; oh < out[2]; oh++) {
      for (let ow = 0; ow < out[3]; ow++) {
        visit(p, oh * win.stride[0] - win.padding[0], ow * win.stride[1] - win.padding[1], o++);
      }
    }
  }
}

/** max_pool2d with return_indices: first maximum in row-major order; a NaN wins (the last NaN). */
export function maxPoolRef(x: ArrayLike<number>, shape: Shape4, win: WindowRef) {
  const [, , h, w] = shape;
  const outShape = poolOutShape(shape, win);
  const out = new Float64Array(outShape.reduce((a, b) => a * b));
  const indices = new Int32Array(out.length);
  forEachWindow(shape, win, (p, h0, w0, o) => {
    let best = -Infinity;
    let bestIndex = -1;
    for (let ih = Math.max(h0, 0); ih < Math.min(h0 + win.kernel[0], h); ih++) {
      for (let iw = Math.max(w0, 0); iw < Math.min(w0 + win.kernel[1], w); iw++) {
        const v = x[p * h * w + ih * w + iw];
        if (bestIndex < 0) bestIndex = ih * w + iw;
        if (v > best || Number.isNaN(v)) {
          best = v;
          bestIndex = ih * w + iw;
        }
      }
    }
    out[o] = best;
    indices[o] = bestIndex;
  });
  return { out, indices, outShape };
}

/** The input gradient of max pooling: each output's gradient added at its argmax. */
export function maxPoolGradRef(dy: ArrayLike<number>, indices: ArrayLike<number>, shape: Shape4, outShape: Shape4): Float64Array {
  const plane = shape[2] * shape[3];
  const outPlane = outShape[2] * outShape[3];
  const dx = new Float64Array(shape.reduce((a, b) => a * b));
  for (let o = 0; o < dy.length; o++) dx[Math.floor(o / outPlane) * plane + indices[o]] += dy[o];
  return dx;
}

/** avg_pool2d: window cut at size + padding; divisor with padding or of the in-bounds elements. */
export function avgPoolRef(x: ArrayLike<number>, shape: Shape4, win: WindowRef, countIncludePad: boolean): Float64Array {
  const [, , h, w] = shape;
  const out = new Float64Array(poolOutShape(shape, win).reduce((a, b) => a * b));
  forEachWindow(shape, win, (p, h0, w0, o) => {
    const h1 = Math.min(h0 + win.kernel[0], h + win.padding[0]);
    const w1 = Math.min(w0 + win.kernel[1], w + win.padding[1]);
    const [hs, he, ws, we] = [Math.max(h0, 0), Math.min(h1, h), Math.max(w0, 0), Math.min(w1, w)];
    let sum = 0;
    for (let ih = hs; ih < he; ih++) for (let iw = ws; iw < we; iw++) sum += x[p * h * w + ih * w + iw];
    out[o] = sum / (countIncludePad ? (h1 - h0) * (w1 - w0) : (he - hs) * (we - ws));
  });
  return out;
}

/** adaptive_avg_pool2d: bin i spans [floor(i*in/out), ceil((i+1)*in/out)). */
export function adaptiveAvgPoolRef(x: ArrayLike<number>, [n, c, h, w]: Shape4, [oh, ow]: [number, number]): Float64Array {
  const out = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      const [hs, he] = [Math.floor((i * h) / oh), Math.ceil(((i + 1) * h) / oh)];
      for (let j = 0; j < ow; j++) {
        const [ws, we] = [Math.floor((j * w) / ow), Math.ceil(((j + 1) * w) / ow)];
        let sum = 0;
        for (let ih = hs; ih < he; ih++) for (let iw = ws; iw < we; iw++) sum += x[p * h * w + ih * w + iw];
        out[(p * oh + i) * ow + j] = sum / ((he - hs) * (we - ws));
      }
    }
  }
  return out;
}
