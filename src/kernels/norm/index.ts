/**
 * layerNorm, as torch.nn.functional.layer_norm: each row of the trailing `normalizedShape` dimensions is
 * normalised with its mean and biased variance, then scaled by `weight` and shifted by `bias` (both
 * optional, of shape normalizedShape). Fused: one dispatch for the forward (statistics, normalisation,
 * affine), which also saves each row's mean and rstd for the backward; one for the input gradient and
 * one for the weight and bias gradients (summed over the rows without atomics). Differentiable in the
 * input, weight and bias.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, numel, zeros, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { expectFloat32 } from '../checks.js';
import forwardSource from '../../../shaders/norm/layer_norm_forward.wgsl';
import backwardDataSource from '../../../shaders/norm/layer_norm_backward_data.wgsl';
import backwardWeightSource from '../../../shaders/norm/layer_norm_backward_weight.wgsl';

const forwardKernel = new Kernel('layer_norm_forward', forwardSource);
const backwardDataKernel = new Kernel('layer_norm_backward_data', backwardDataSource);
const backwardWeightKernel = new Kernel('layer_norm_backward_weight', backwardWeightSource);

/** The most lanes a row may have: they all sit in one workgroup, of the forward and of the backward kernel. */
const WORKGROUP = Math.min(forwardKernel.workgroupInvocations, backwardDataKernel.workgroupInvocations);
/** Elements a lane should own before a row is worth splitting across more lanes (and barriers), as
 *  for softmax, whose row kernels these follow. */
const ELEMENTS_PER_LANE = 64;

export interface LayerNormOptions {
  /** Added to the variance before the square root; default 1e-5, as PyTorch. */
  eps?: number;
}

function lanesPerRow(size: number): number {
  let lanes = 1;
  while (lanes < WORKGROUP && lanes * ELEMENTS_PER_LANE < size) lanes *= 2;
  return lanes;
}

function checkArguments(x: Tensor, normalized: number[], weight: Tensor | null, bias: Tensor | null, eps: number): void {
  expectFloat32('layerNorm', 'input', x);
  if (!normalized.length || normalized.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`layerNorm: normalizedShape must be a non-empty list of non-negative integers, got [${normalized}]`);
  }
  const trailing = x.shape.slice(x.ndim - normalized.length);
  if (normalized.length > x.ndim || trailing.some((d, i) => d !== normalized[i])) {
    throw new Error(`layerNorm: normalizedShape [${normalized}] must equal the trailing dimensions of the input, got input shape [${x.shape}]`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t === null) continue;
    expectFloat32('layerNorm', name, t);
    if (t.ndim !== normalized.length || t.shape.some((d, i) => d !== normalized[i])) {
      throw new Error(`layerNorm: ${name} must have shape [${normalized}] (normalizedShape), got [${t.shape}]`);
    }
  }
  if (!(Number.isFinite(eps) && eps >= 0)) throw new Error(`layerNorm: eps must be a finite number >= 0, got ${eps}`);
}

/**
 * Layer normalisation of `x` over its trailing dimensions `normalizedShape` (a number: the last one),
 * with optional `weight` and `bias` of shape normalizedShape (null or undefined: none).
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  { eps = 1e-5 }: LayerNormOptions = {},
): Tensor {
  const normalized = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  checkArguments(x, normalized, weight, bias, eps);
  const size = numel(normalized);
  const rows = size === 0 ? 0 : x.size / size;
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const out = empty(x.shape, 'float32', 'layerNorm');
  if (x.size === 0) {
    // Nothing to normalise: the weight and bias gradients are sums over no rows.
    return record(out, 'layerNorm', inputs, (grad) => inputs.map((t) => (t.requiresGrad ? zeros(t.shape) : null)));
  }
  const mean = empty([rows], 'float32', 'layerNorm mean');
  const rstd = empty([rows], 'float32', 'layerNorm rstd');
  // WebGPU needs every binding: an absent weight or bias binds the input, which the shader never reads.
  const threadsPerRow = lanesPerRow(size);
  const rowWorkgroups = (kernel: Kernel) => workgroups1d(Math.ceil((rows * threadsPerRow) / kernel.workgroupInvocations));
  dispatch(forwardKernel, {
    workgroups: rowWorkgroups(forwardKernel),
    buffers: { x, weight: weight ?? x, bias: bias ?? x, out, mean, rstd },
    uniforms: { rows, size, eps },
    constants: { THREADS_PER_ROW: threadsPerRow, AFFINE: weight ? 1 : 0, BIAS: bias ? 1 : 0 },
  });
  return record(
    out,
    'layerNorm',
    inputs,
    (grad) => {
      const statistics = { x, g: grad, mean, rstd };
      let gx: Tensor | null = null;
      if (x.requiresGrad) {
        gx = empty(x.shape, 'float32', 'layerNorm backward');
        dispatch(backwardDataKernel, {
          workgroups: rowWorkgroups(backwardDataKernel),
          buffers: { ...statistics, weight: weight ?? x, gx },
          uniforms: { rows, size },
          constants: { THREADS_PER_ROW: threadsPerRow, AFFINE: weight ? 1 : 0 },
        });
      }
      let gweight: Tensor | null = null;
      let gbias: Tensor | null = null;
      if (weight?.requiresGrad || bias?.requiresGrad) {
        gweight = empty(normalized, 'float32', 'layerNorm backward');
        gbias = empty(normalized, 'float32', 'layerNorm backward');
        dispatch(backwardWeightKernel, {
          workgroups: workgroups1d(Math.ceil(size / backwardWeightKernel.constant('COLUMNS'))),
          buffers: { ...statistics, gweight, gbias },
          uniforms: { rows, size },
        });
        if (!weight?.requiresGrad) gweight = (gweight.dispose(), null);
        if (!bias?.requiresGrad) gbias = (gbias.dispose(), null);
      }
      const grads = [gx];
      if (weight) grads.push(gweight);
      if (bias) grads.push(gbias);
      return grads;
    },
    [mean, rstd],
  );
}
