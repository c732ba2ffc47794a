/** Batch norm backward: per-channel sums (= the weight and bias gradients, and the input gradient's table). */
import { Kernel } from '../../engine/kernel.js';
import { dispatch } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { reductionDispatch, type ChannelLayout } from './forward.js';
import gradSumsSource from '../../../shaders/batchnorm/grad_sums.wgsl';

const gradSumsKernel = new Kernel('batchnorm_grad_sums', gradSumsSource);

/** What the forward leaves for the backward. */
export interface SavedBatchNorm {
  x: Tensor;
  /** [C, 4]: (mean, invstd * weight, bias, invstd) as the forward normalised with. */
  table: Tensor;
  layout: ChannelLayout;
  /** Batch statistics (they depend on x) or constant ones. */
  training: boolean;
}

export interface BatchNormSums {
  /** sum(dy * xhat) per channel. */
  gradWeight: Tensor;
  /** sum(dy) per channel. */
  gradBias: Tensor;
  /** The coefficients of the input gradient with batch statistics (training only). */
  gradTable: Tensor | null;
}

/** A reduction per channel: sum(dy) and sum(dy * xhat), and in training the input gradient's table. */
export function batchNormGradSums(dy: Tensor, { x, table, layout, training }: SavedBatchNorm): BatchNormSums {
  const gradWeight = empty([layout.channels], 'float32', 'batchNorm2d grad weight');
  const gradBias = empty([layout.channels], 'float32', 'batchNorm2d grad bias');
  // Outside training the binding is a placeholder the kernel does not write.
  const gradTable = empty(training ? [layout.channels, 4] : [1], 'float32', 'batchNorm2d gradient table');
  const { workgroups, lanes } = reductionDispatch(gradSumsKernel, layout);
  dispatch(gradSumsKernel, {
    workgroups,
    buffers: { x, dy, saved: table, gradWeight, gradBias, gradTable },
    uniforms: { channels: layout.channels, planeSize: layout.planeSize, batch: layout.batch },
    constants: { TRAINING: training ? 1 : 0, LANES: lanes },
  });
  if (training) return { gradWeight, gradBias, gradTable };
  gradTable.dispose();
  return { gradWeight, gradBias, gradTable: null };
}

