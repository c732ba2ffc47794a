// Float64 references for batch norm, written from torch.nn.functional.batch_norm's definition
// (ATen's Normalization.cpp), independent of our shaders: two-pass statistics in float64.

export type Shape4 = readonly [number, number, number, number];

/** Per-channel mean and biased variance (two passes). */
export function channelStatsRef(x: ArrayLike<number>, [n, c, h, w]: Shape4): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const count = n * h * w;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) sum += x[(b * c + ch) * h * w + i];
    mean[ch] = sum / count;
    let squares = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) squares += (x[(b * c + ch) * h * w + i] - mean[ch]) ** 2;
    variance[ch] = squares / count;
  }
  return { mean, variance };
}

/** (x - mean) / sqrt(variance + eps) * weight + bias per channel; null weight/bias: 1 and 0. */
export function normalizeRef(
  x: ArrayLike<number>,
  [n, c, h, w]: Shape4,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  eps: number,
): Float64Array {
  const y = new Float64Array(n * c * h * w);
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    y[i] = ((x[i] - mean[ch]) / Math.sqrt(variance[ch] + eps)) * (weight ? weight[ch] : 1) + (bias ? bias[ch] : 0);
  }
  return y;
}

/** Training-mode batch norm: normalised with the batch's own statistics. */
export function batchNormTrainRef(
  x: ArrayLike<number>,
  shape: Shape4,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  eps: number,
): Float64Array {
  const { mean, variance } = channelStatsRef(x, shape);
  return normalizeRef(x, shape, mean, variance, weight, bias, eps);
}

/** The running statistics after one training step (unbiased variance, n/(n-1)). */
export function updateRunningRef(
  runningMean: Float64Array,
  runningVar: Float64Array,
  x: ArrayLike<number>,
  shape: Shape4,
  momentum: number,
): void {
  const { mean, variance } = channelStatsRef(x, shape);
  const count = shape[0] * shape[2] * shape[3];
  for (let ch = 0; ch < mean.length; ch++) {
    runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch];
    runningVar[ch] = (1 - momentum) * runningVar[ch] + (momentum * variance[ch] * count) / (count - 1);
  }
}

/** Gradients of training-mode batch norm (batch statistics, which depend on x) for upstream gradient dy:
 *  dbias = sum(dy), dweight = sum(dy * xhat), dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 *  sums and means over each channel's N*H*W elements. */
export function batchNormTrainBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: Shape4,
  weight: ArrayLike<number>,
  eps: number,
): { gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array } {
  const [n, c, h, w] = shape;
  const { mean, variance } = channelStatsRef(x, shape);
  const invstd = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const xhat = (i: number, ch: number) => (x[i] - mean[ch]) * invstd[ch];
  const channelOf = (i: number) => Math.floor(i / (h * w)) % c;
  const gradWeight = new Float64Array(c);
  const gradBias = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    const ch = channelOf(i);
    gradBias[ch] += dy[i];
    gradWeight[ch] += dy[i] * xhat(i, ch);
  }
  const count = n * h * w;
  const gradInput = Float64Array.from(x, (_, i) => {
    const ch = channelOf(i);
    return weight[ch] * invstd[ch] * (dy[i] - gradBias[ch] / count - (xhat(i, ch) * gradWeight[ch]) / count);
  });
  return { gradInput, gradWeight, gradBias };
}

/** Gradients of eval-mode batch norm (constant statistics mean, variance): a per-channel affine map, so
 *  dx = dy * weight * invstd, dweight = sum(dy * (x - mean) * invstd), dbias = sum(dy). */
export function batchNormEvalBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  [, c, h, w]: Shape4,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  weight: ArrayLike<number>,
  eps: number,
): { gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array } {
  const channelOf = (i: number) => Math.floor(i / (h * w)) % c;
  const invstd = (ch: number) => 1 / Math.sqrt(variance[ch] + eps);
  const gradWeight = new Float64Array(c);
  const gradBias = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    const ch = channelOf(i);
    gradBias[ch] += dy[i];
    gradWeight[ch] += dy[i] * (x[i] - mean[ch]) * invstd(ch);
  }
  const gradInput = Float64Array.from(dy, (g, i) => g * weight[channelOf(i)] * invstd(channelOf(i)));
  return { gradInput, gradWeight, gradBias };
}
