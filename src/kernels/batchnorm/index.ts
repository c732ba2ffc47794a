/**
 * batchNorm2d, as torch.nn.functional.batch_norm on [N, C, H, W]: training normalises with the batch's
 * mean and biased variance and updates the running statistics in place (momentum, unbiased variance);
 * eval normalises with the running statistics. Differentiable in the input, weight and bias.
 * Optionally fused with what follows a batch norm in a ResNet block: relu(bn(x) + residual), in the
 * same pass over the output (differentiable in the residual too).
 */
import { record } from '../../engine/autograd.js';
import { full, type Tensor } from '../../engine/tensor.js';
import { batchStats, channelLayout, statisticsTable } from './forward.js';
import { batchNormGradSums, type SavedBatchNorm } from './backward.js';
import { channelAffine } from './affine.js';
import { reluBackward } from '../elementwise/index.js';
import { expectFloat32 } from '../checks.js';

export interface BatchNormOptions {
  /** Normalise with batch statistics and update the running ones (default false). */
  training?: boolean;
  momentum?: number;
  eps?: number;
  /** A one-element int32 counter (BatchNorm2d's num_batches_tracked) incremented in training, by the
   *  statistics pass itself rather than a dispatch of its own; k elements: one counter per block of
   *  C / k channels (k batch norms' channels stacked into one input). */
  batchCount?: Tensor | null;
  /** Added to the normalised output (before the ReLU); the output's shape. */
  residual?: Tensor | null;
  /** ReLU on the output. */
  relu?: boolean;
}

function checkPerChannel(t: Tensor | null, name: string, x: Tensor): void {
  if (!t) return;
  expectFloat32('batchNorm2d', name, t);
  if (t.ndim !== 1 || t.shape[0] !== x.shape[1]) {
    throw new Error(
      `batchNorm2d: ${name} must have shape [${x.shape[1]}] (one value per channel of input [${x.shape}]), got [${t.shape}]`,
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
  batchCount: Tensor | null,
  residual: Tensor | null,
): void {
  expectFloat32('batchNorm2d', 'input', x);
  if (x.ndim !== 4) {
    throw new Error(`batchNorm2d: expected a 4-D input (N, C, H, W), got shape [${x.shape}]`);
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
  if (batchCount && (batchCount.dtype !== 'int32' || batchCount.ndim > 1 || x.shape[1] % batchCount.size !== 0)) {
    throw new Error(
      `batchNorm2d: batchCount must be a one-element int32 tensor, got ${batchCount.dtype} [${batchCount.shape}] ` +
        `(or one int32 counter per equal block of the ${x.shape[1]} channels)`,
    );
  }
  if (residual) {
    expectFloat32('batchNorm2d', 'residual', residual);
    if (residual.shape.join() !== x.shape.join()) {
      throw new Error(`batchNorm2d: residual must have the input's shape [${x.shape}], got [${residual.shape}]`);
    }
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
  { training = false, momentum = 0.1, eps = 1e-5, batchCount = null, residual = null, relu = false }: BatchNormOptions = {},
): Tensor {
  checkArguments(x, runningMean, runningVar, weight, bias, training, momentum, eps, batchCount, residual);
  const layout = channelLayout(x);
  const affineWeight = weight ?? full([layout.channels], 1);
  const affineBias = bias ?? full([layout.channels], 0);
  // The table is the backward's copy of the statistics too: a later training step may update the running
  // ones in place before this backward runs.
  const table = training
    ? batchStats(x, affineWeight, affineBias, layout, eps, { runningMean, runningVar, momentum, batchCount })
    : statisticsTable(runningMean!, runningVar!, affineWeight, affineBias, layout, eps);
  const y = channelAffine('normalize', x, table, layout, 'batchNorm2d', residual, relu);
  // Safe right after recording: whoever reuses the pooled buffers is recorded later.
  if (!weight) affineWeight.dispose();
  if (!bias) affineBias.dispose();
  const saved: SavedBatchNorm = { x, table, layout, training };
  const inputs = [x, affineWeight, affineBias, ...(residual ? [residual] : [])];
  return record(y, relu || residual ? 'batchNorm2dFused' : 'batchNorm2d', inputs, (grad) => {
    // The ReLU's mask is applied inside the sums and input-gradient passes; the masked gradient is stored
    // (by the sums pass, as it reads it) only when the residual needs it as its gradient.
    const residualGrad = residual?.requiresGrad ?? false;
    // With batch statistics the input gradient needs the sums; with constant ones only the affine gradients do.
    const needSums = training || weight?.requiresGrad || bias?.requiresGrad;
    // Constant statistics, no affine gradients, but a residual to feed: the masked gradient by itself.
    const dy = relu && residualGrad && !needSums ? reluBackward(grad, y) : grad;
    const mask = relu && dy === grad ? y : null;
    const sums = needSums ? batchNormGradSums(dy, saved, mask ? { y: mask, storeMasked: residualGrad } : null) : null;
    // The gradient of what the ReLU saw: stored by the sums pass, or masked in the pass that reads it.
    const masked = sums?.maskedDy ?? (mask ? null : dy);
    let gradInput: Tensor | null = null;
    if (x.requiresGrad) {
      const [a, m] = masked ? [masked, null] : [grad, mask];
      gradInput = sums?.gradTable
        ? channelAffine('gradient', a, sums.gradTable, layout, 'batchNorm2d grad input', x, false, m)
        : channelAffine('scale', a, table, layout, 'batchNorm2d grad input', null, false, m);
    }
    const gradWeight = weight?.requiresGrad ? sums!.gradWeight : null;
    const gradBias = bias?.requiresGrad ? sums!.gradBias : null;
    if (sums && !gradWeight) sums.gradWeight.dispose();
    if (sums && !gradBias) sums.gradBias.dispose();
    sums?.gradTable?.dispose();
    const gradResidual = residualGrad ? masked : null;
    // A masked copy the residual does not take is freed once read.
    if (masked && masked !== grad && masked !== gradResidual) masked.dispose();
    return [gradInput, gradWeight, gradBias, ...(residual ? [gradResidual] : [])];
  }, [table]);
}
