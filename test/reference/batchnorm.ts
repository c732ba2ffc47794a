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
