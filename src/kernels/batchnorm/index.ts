/**
 * batchNorm2d, as torch.nn.functional.batch_norm on [N, C, H, W]: training normalises with the batch's
 * mean and biased variance and updates the running statistics in place (momentum, unbiased variance);
 * eval normalises with the running statistics. Differentiable in the input, weight and bias.
 */
import { isGradEnabled, record } from '../../engine/autograd.js';
import { full, type Tensor } from '../../engine/tensor.js';
import { batchStats, channelLayout, normalize, updateRunningStats } from './forward.js';
import { batchNormGradInput, batchNormGradSums, type SavedBatchNorm } from './backward.js';

export { incrementBatchCount } from './count.js';

export interface BatchNormOptions {
  /** Normalise with batch statistics and update the running ones (default false). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

function checkPerChannel(t: Tensor | null, name: string, x: Tensor): void {
  if (!t) return;
  if (t.dtype !== 'float32' || t.ndim !== 1 || t.shape[0] !== x.shape[1]) {
    throw new Error(
      `batchNorm2d: ${name} must be a float32 tensor of shape [${x.shape[1]}] (one value per channel of input ` +
        `[${x.shape}]), got ${t.dtype} [${t.shape}]`,
    );
  }
}

function checkArguments(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  momentum: number,
  eps: number,
): void {
  if (x.ndim !== 4 || x.dtype !== 'float32') {
    throw new Error(`batchNorm2d: expected a 4-D float32 input (N, C, H, W), got ${x.dtype} [${x.shape}]`);
  }
  checkPerChannel(runningMean, 'runningMean', x);
  checkPerChannel(runningVar, 'runningVar', x);
  checkPerChannel(weight, 'weight', x);
  checkPerChannel(bias, 'bias', x);
  if (!runningMean !== !runningVar) {
    throw new Error('batchNorm2d: runningMean and runningVar must be given together or both be null');
  }
  if (!training && !runningMean) {
    throw new Error('batchNorm2d: eval mode (training: false) needs runningMean and runningVar');
  }
  const [n, , h, w] = x.shape;
  if (training && n * h * w <= 1) {
    throw new Error(`batchNorm2d: expected more than 1 value per channel when training, got input [${x.shape}]`);
  }
  if (!Number.isFinite(momentum)) throw new Error(`batchNorm2d: momentum must be a finite number, got ${momentum}`);
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`batchNorm2d: eps must be a non-negative number, got ${eps}`);
}

export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  { training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): Tensor {
  checkArguments(x, runningMean, runningVar, weight, bias, training, momentum, eps);
  const layout = channelLayout(x);
  const needsGrad = isGradEnabled() && [x, weight, bias].some((t) => t?.requiresGrad);
  let mean: Tensor;
  let variance: Tensor;
  if (training) {
    ({ mean, variance } = batchStats(x, layout));
    if (runningMean && runningVar) updateRunningStats(runningMean, runningVar, mean, variance, layout, momentum);
  } else {
    // Copies for the backward: a later training step may update the running statistics in place first.
    mean = needsGrad ? runningMean!.clone() : runningMean!;
    variance = needsGrad ? runningVar!.clone() : runningVar!;
  }
  const ownsStats = training || needsGrad;
  const affineWeight = weight ?? full([layout.channels], 1);
  const affineBias = bias ?? full([layout.channels], 0);
  const y = normalize(x, mean, variance, affineWeight, affineBias, layout, eps);
  const temporaries = [
    ...(ownsStats ? [mean, variance] : []),
    ...(weight ? [] : [affineWeight]),
    ...(bias ? [] : [affineBias]),
  ];
  if (!needsGrad) {
    // Safe right after recording: whoever reuses the pooled buffers is recorded later.
    for (const t of temporaries) t.dispose();
    return y;
  }
  const saved: SavedBatchNorm = { x, mean, variance, weight: affineWeight, layout, eps, training };
  return record(y, 'batchNorm2d', [x, affineWeight, affineBias], (dy) => {
    // Also run when only x needs a gradient in eval mode (which does not read the sums): one input-gradient
    // kernel serves both modes, for the price of one reduction pass in that uncommon case.
    const sums = batchNormGradSums(dy, saved);
    const gradInput = x.requiresGrad ? batchNormGradInput(dy, saved, sums) : null;
    const gradWeight = weight?.requiresGrad ? sums.gradWeight : null;
    const gradBias = bias?.requiresGrad ? sums.gradBias : null;
    if (!gradWeight) sums.gradWeight.dispose();
    if (!gradBias) sums.gradBias.dispose();
    for (const t of temporaries) t.dispose();
    return [gradInput, gradWeight, gradBias];
  });
}
