// Float64 references for the resampling ops, written from PyTorch's definitions (ATen's
// UpSample.h / UpSampleKernel.cpp, AffineGridGenerator.cpp, GridSampler.h), independent of our shaders.

export type Shape4 = readonly [number, number, number, number];

/** One axis of upsample_bilinear2d: for each output index, its two source indices and weights. */
function axisTaps(inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number) {
  const taps: { i0: number; i1: number; l0: number; l1: number }[] = [];
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      taps.push({ i0: o, i1: o, l0: 1, l1: 0 });
      continue;
    }
    let real: number;
    if (alignCorners) {
      real = outSize > 1 ? ((inSize - 1) / (outSize - 1)) * o : 0;
    } else {
      const scale = scaleFactor !== undefined ? 1 / scaleFactor : inSize / outSize;
      real = Math.max(scale * (o + 0.5) - 0.5, 0);
    }
    const i0 = Math.floor(real);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = Math.min(Math.max(real - i0, 0), 1);
    taps.push({ i0, i1, l0: 1 - l1, l1 });
  }
  return taps;
}

/** F.interpolate(x, size=[oh, ow] (or scale_factor), mode='bilinear', align_corners). */
export function interpolateRef(
  x: Float64Array,
  shape: Shape4,
  out: readonly [number, number],
  alignCorners: boolean,
  scaleFactors?: readonly [number, number],
): Float64Array {
  const [n, c, h, w] = shape;
  const [oh, ow] = out;
  const th = axisTaps(h, oh, alignCorners, scaleFactors?.[0]);
  const tw = axisTaps(w, ow, alignCorners, scaleFactors?.[1]);
  const y = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const at = (r: number, s: number) => x[(p * h + r) * w + s];
        const a = th[i];
        const b = tw[j];
        y[(p * oh + i) * ow + j] =
          a.l0 * (b.l0 * at(a.i0, b.i0) + b.l1 * at(a.i0, b.i1)) + a.l1 * (b.l0 * at(a.i1, b.i0) + b.l1 * at(a.i1, b.i1));
      }
    }
  }
  return y;
}

/** torch.cat of [N, C, H, W_k] maps along dim 3 (axis 3) or of [N, C, H_k, W] along dim 2. */
export function catRef(parts: { data: Float64Array; shape: Shape4 }[], dim: 2 | 3): { data: Float64Array; shape: Shape4 } {
  const [n, c] = parts[0].shape;
  const h = dim === 2 ? parts.reduce((s, p) => s + p.shape[2], 0) : parts[0].shape[2];
  const w = dim === 3 ? parts.reduce((s, p) => s + p.shape[3], 0) : parts[0].shape[3];
  const data = new Float64Array(n * c * h * w);
  let offset = 0;
  for (const part of parts) {
    const [, , ph, pw] = part.shape;
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i < ph; i++) {
        for (let j = 0; j < pw; j++) {
          const [r, s] = dim === 2 ? [i + offset, j] : [i, j + offset];
          data[(p * h + r) * w + s] = part.data[(p * ph + i) * pw + j];
        }
      }
    }
    offset += dim === 2 ? ph : pw;
  }
  return { data, shape: [n, c, h, w] };
}

/** linspace_from_neg_one of AffineGridGenerator.cpp: the normalised centre of pixel i of `steps`. */
function baseCoordinate(i: number, steps: number, alignCorners: boolean): number {
  if (steps <= 1) return 0;
  const v = -1 + (2 * i) / (steps - 1);
  return alignCorners ? v : (v * (steps - 1)) / steps;
}

/** F.affine_grid(theta [N, 2, 3], [N, C, H, W], align_corners) → [N, H, W, 2]. */
export function affineGridRef(theta: Float64Array, n: number, h: number, w: number, alignCorners: boolean): Float64Array {
  const grid = new Float64Array(n * h * w * 2);
  for (let b = 0; b < n; b++) {
    const t = theta.subarray(6 * b, 6 * b + 6);
    for (let i = 0; i < h; i++) {
      const y = baseCoordinate(i, h, alignCorners);
      for (let j = 0; j < w; j++) {
        const x = baseCoordinate(j, w, alignCorners);
        const at = ((b * h + i) * w + j) * 2;
        grid[at] = t[0] * x + t[1] * y + t[2];
        grid[at + 1] = t[3] * x + t[4] * y + t[5];
      }
    }
  }
  return grid;
}

/** grid_sampler_compute_source_index for bilinear, 'zeros' or 'border' padding. */
function sourceIndex(coord: number, size: number, padding: 'zeros' | 'border', alignCorners: boolean): number {
  let c = alignCorners ? ((coord + 1) / 2) * (size - 1) : ((coord + 1) * size - 1) / 2;
  if (padding === 'border') c = Math.min(size - 1, Math.max(c, 0));
  return c;
}

/** F.grid_sample(x [N, C, H, W], grid [N, Ho, Wo, 2], 'bilinear', padding_mode, align_corners). */
export function gridSampleRef(
  x: Float64Array,
  shape: Shape4,
  grid: Float64Array,
  out: readonly [number, number],
  padding: 'zeros' | 'border',
  alignCorners: boolean,
): Float64Array {
  const [n, c, h, w] = shape;
  const [ho, wo] = out;
  const y = new Float64Array(n * c * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const g = ((b * ho + i) * wo + j) * 2;
        const ix = sourceIndex(grid[g], w, padding, alignCorners);
        const iy = sourceIndex(grid[g + 1], h, padding, alignCorners);
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const corners: [number, number, number][] = [
          [x0, y0, (x0 + 1 - ix) * (y0 + 1 - iy)],
          [x0 + 1, y0, (ix - x0) * (y0 + 1 - iy)],
          [x0, y0 + 1, (x0 + 1 - ix) * (iy - y0)],
          [x0 + 1, y0 + 1, (ix - x0) * (iy - y0)],
        ];
        for (let ch = 0; ch < c; ch++) {
          let v = 0;
          for (const [cx, cy, weight] of corners) {
            if (cx >= 0 && cx < w && cy >= 0 && cy < h) v += weight * x[((b * c + ch) * h + cy) * w + cx];
          }
          y[((b * c + ch) * ho + i) * wo + j] = v;
        }
      }
    }
  }
  return y;
}
