// Float64 reference convolutions written as plain loops, independent of the GPU kernels: the forward
// gathers over taps, the input gradient scatters each output's gradient back to the inputs it read,
// the weight gradient accumulates over every (output, tap) pair.

export interface ConvSpec {
  xShape: number[];
  wShape: number[];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export function outShape(s: ConvSpec): number[] {
  const [N, , H, W] = s.xShape;
  const [O, , kH, kW] = s.wShape;
  const OH = Math.floor((H + 2 * s.padding[0] - s.dilation[0] * (kH - 1) - 1) / s.stride[0]) + 1;
  const OW = Math.floor((W + 2 * s.padding[1] - s.dilation[1] * (kW - 1) - 1) / s.stride[1]) + 1;
  return [N, O, OH, OW];
}

/** Calls visit(yIndex, xIndex, wIndex) for every multiply-add of the convolution (in-bounds taps). */
function forEachTap(s: ConvSpec, visit: (yi: number, xi: number, wi: number) => void): void {
  const [N, C, H, W] = s.xShape;
  const [O, Cg, kH, kW] = s.wShape;
  const [, , OH, OW] = outShape(s);
  const Og = O / s.groups;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * O + o) * OH + oh) * OW + ow;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < kH; kh++) {
              const ih = oh * s.stride[0] - s.padding[0] + kh * s.dilation[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < kW; kw++) {
                const iw = ow * s.stride[1] - s.padding[1] + kw * s.dilation[1];
                if (iw < 0 || iw >= W) continue;
                visit(yi, ((n * C + g * Cg + c) * H + ih) * W + iw, ((o * Cg + c) * kH + kh) * kW + kw);
              }
            }
        }
    }
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** y = conv(x, w) + bias. */
export function conv2dRef(s: ConvSpec, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number> | null): Float64Array {
  const shape = outShape(s);
  const y = new Float64Array(size(shape));
  forEachTap(s, (yi, xi, wi) => (y[yi] += x[xi] * w[wi]));
  if (bias) {
    const plane = shape[2] * shape[3];
    for (let i = 0; i < y.length; i++) y[i] += bias[Math.floor(i / plane) % shape[1]];
  }
  return y;
}

export function conv2dInputGradRef(s: ConvSpec, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(size(s.xShape));
  forEachTap(s, (yi, xi, wi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

export function conv2dWeightGradRef(s: ConvSpec, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(size(s.wShape));
  forEachTap(s, (yi, xi, wi) => (dw[wi] += dy[yi] * x[xi]));
  return dw;
}

export function conv2dBiasGradRef(s: ConvSpec, dy: ArrayLike<number>): Float64Array {
  const [, O, OH, OW] = outShape(s);
  const db = new Float64Array(O);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (OH * OW)) % O] += dy[i];
  return db;
}
