/** Batch norm backward kernels: per-channel sums (= the weight and bias gradients), input gradient. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { planeWorkgroups, type ChannelLayout } from './forward.js';
import gradSumsSource from '../../../shaders/batchnorm/grad_sums.wgsl';
import gradInputSource from '../../../shaders/batchnorm/grad_input.wgsl';

const gradSumsKernel = new Kernel('batchnorm_grad_sums', gradSumsSource);
const gradInputKernel = new Kernel('batchnorm_grad_input', gradInputSource);

/** The statistics x was normalised with, and the affine parameters (ones and zeros when absent). */
export interface SavedBatchNorm {
  x: Tensor;
  mean: Tensor;
  variance: Tensor;
  weight: Tensor;
  layout: ChannelLayout;
  eps: number;
  /** Batch statistics (they depend on x) or running ones (constants). */
  training: boolean;
}

/** sum(dy) and sum(dy * xhat) per channel: the bias and weight gradients. */
export function batchNormGradSums(dy: Tensor, saved: SavedBatchNorm): { gradWeight: Tensor; gradBias: Tensor } {
  const { x, mean, variance, layout, eps } = saved;
  const gradWeight = empty([layout.channels], 'float32', 'batchNorm2d grad weight');
  const gradBias = empty([layout.channels], 'float32', 'batchNorm2d grad bias');
  dispatch(gradSumsKernel, {
    workgroups: workgroups1d(layout.channels),
    buffers: { x, dy, mean, variance, gradWeight, gradBias },
    uniforms: { channels: layout.channels, planeSize: layout.planeSize, count: layout.count, eps },
  });
  return { gradWeight, gradBias };
}

/** The input gradient, from dy and the per-channel sums of `batchNormGradSums`. */
export function batchNormGradInput(
  dy: Tensor,
  saved: SavedBatchNorm,
  sums: { gradWeight: Tensor; gradBias: Tensor },
): Tensor {
  const { x, mean, variance, weight, layout, eps, training } = saved;
  const dx = empty(x.shape, 'float32', 'batchNorm2d grad input');
  dispatch(gradInputKernel, {
    workgroups: planeWorkgroups(x, 'batchNorm2d backward'),
    buffers: { x, dy, mean, variance, weight, sumDy: sums.gradBias, sumDyXhat: sums.gradWeight, dx },
    uniforms: { planeSize: layout.planeSize, perChannel: layout.perChannel, eps },
    constants: { TRAINING: training ? 1 : 0 },
  });
  return dx;
}
