/** BatchNorm folding for inference: conv → BN(eval) becomes one conv with a new weight and bias. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { conv2dTuning } from './tuning.js';
import { expectFloat32 } from '../checks.js';
import source from '../../../shaders/conv2d/fold_batchnorm.wgsl';

const kernel = new Kernel('conv2d_fold_batchnorm', source);

/**
 * The weight and bias of a convolution followed by an inference-mode BatchNorm2d:
 * weight' = weight · γ / √(runningVar + ε) per output channel,
 * bias' = (bias − runningMean) · γ / √(runningVar + ε) + β (bias null: zero).
 * New tensors, outside the autograd graph.
 */
export function foldBatchNorm(
  weight: Tensor,
  bias: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
): { weight: Tensor; bias: Tensor } {
  if (weight.ndim !== 4) {
    throw new Error(`foldBatchNorm: expected a 4-D weight (O, C / groups, kH, kW), got shape [${weight.shape}]`);
  }
  const O = weight.shape[0];
  const vectors = { bias, runningMean, runningVar, gamma, beta };
  for (const [name, t] of Object.entries({ weight, ...vectors })) {
    if (t) expectFloat32('foldBatchNorm', name, t);
  }
  for (const [name, t] of Object.entries(vectors)) {
    if (t && (t.ndim !== 1 || t.shape[0] !== O)) {
      throw new Error(`foldBatchNorm: ${name} has shape [${t.shape}], expected [${O}] for weight [${weight.shape}]`);
    }
  }
  if (!(eps >= 0)) throw new Error(`foldBatchNorm: eps must be >= 0, got ${eps}`);
  const kLen = weight.size / Math.max(O, 1);
  const wOut = empty(weight.shape, 'float32', 'foldBatchNorm');
  const bOut = empty([O], 'float32', 'foldBatchNorm');
  const wg = conv2dTuning().workgroupSize;
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil(Math.max(weight.size, O) / wg)),
    // Absent bias: bind the weight in its place; the shader never reads it then.
    buffers: { w: weight, bias: bias ?? weight, runningMean, runningVar, gamma, beta, wOut, bOut },
    uniforms: { channels: O, kLen, eps },
    constants: { WG: wg, HAS_BIAS: bias ? 1 : 0 },
  });
  return { weight: wOut, bias: bOut };
}
