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
  /** dy masked by the ReLU (only when asked for with `storeMasked`). */
  maskedDy: Tensor | null;
}

/** A ReLU that followed the batch norm: `y` its output, whose mask applies to dy; `storeMasked` also
 *  returns the masked dy (the gradient of a fused residual). */
export interface ReluMask {
  y: Tensor;
  storeMasked: boolean;
}

/** A reduction per channel: sum(dy) and sum(dy * xhat), and in training the input gradient's table;
 *  with `relu`, of dy masked by the ReLU's output in the same pass. */
export function batchNormGradSums(dy: Tensor, { x, table, layout, training }: SavedBatchNorm, relu: ReluMask | null = null): BatchNormSums {
  const gradWeight = empty([layout.channels], 'float32', 'batchNorm2d grad weight');
  const gradBias = empty([layout.channels], 'float32', 'batchNorm2d grad bias');
  // Outside training the binding is a placeholder the kernel does not write.
  const gradTable = empty(training ? [layout.channels, 4] : [1], 'float32', 'batchNorm2d gradient table');
  const storeMasked = relu?.storeMasked ?? false;
  const maskedDy = empty(storeMasked ? dy.shape : [1], 'float32', storeMasked ? 'batchNorm2d relu gradient' : 'batchNorm2d placeholder');
  const { workgroups, lanes } = reductionDispatch(gradSumsKernel, layout);
  dispatch(gradSumsKernel, {
    workgroups,
    buffers: { x, dy, saved: table, gradWeight, gradBias, gradTable, y: relu?.y ?? dy, maskedDy },
    uniforms: { channels: layout.channels, planeSize: layout.planeSize, batch: layout.batch },
    constants: { TRAINING: training ? 1 : 0, LANES: lanes, MASK: relu ? 1 : 0, STORE_MASKED: storeMasked ? 1 : 0 },
  });
  // Safe right after recording: whoever reuses the pooled buffers is recorded later.
  if (!storeMasked) maskedDy.dispose();
  if (!training) gradTable.dispose();
  return { gradWeight, gradBias, gradTable: training ? gradTable : null, maskedDy: storeMasked ? maskedDy : null };
}

