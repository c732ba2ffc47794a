/**
 * Gradient clipping and the finite check of a NaN guard, on the GPU without readbacks:
 * `clipGradNorm` is `torch.nn.utils.clip_grad_norm_` (PyTorch 1.13); `nonFiniteFlag` /
 * `gradsAreFinite` test every gradient for NaN and infinities with one small kernel per tensor.
 */
import { Kernel } from '../engine/kernel.js';
import { dispatch, workgroups1d } from '../engine/recorder.js';
import { empty, tensor, type Tensor } from '../engine/tensor.js';
import { tidy } from '../engine/scope.js';
import { vec4Workgroups } from './optimizer.js';
import { expectFloat32 } from '../kernels/checks.js';
import partialSource from '../../shaders/optim/norm_partial.wgsl';
import totalSource from '../../shaders/optim/norm_total.wgsl';
import scaleSource from '../../shaders/optim/scale.wgsl';
import nonFiniteSource from '../../shaders/optim/nonfinite.wgsl';

const partialKernel = new Kernel('clip_norm_partial', partialSource);
const totalKernel = new Kernel('clip_norm_total', totalSource);
const scaleKernel = new Kernel('clip_scale', scaleSource);
const nonFiniteKernel = new Kernel('nonfinite', nonFiniteSource);

/** vec4s each norm_partial invocation combines: enough work per invocation, few partials to combine. */
const VEC4S_PER_PARTIAL = 16;

function gradsOf(params: Tensor | readonly Tensor[], op: string): Tensor[] {
  const list = Array.isArray(params) ? params : [params as Tensor];
  return list.flatMap((p, i) => {
    if (!p || typeof p !== 'object' || !('grad' in p)) throw new Error(`${op}: parameter ${i} is not a tensor (${String(p)})`);
    if (p.grad) expectFloat32(op, `the gradient of parameter ${i}`, p.grad);
    return p.grad ? [p.grad] : [];
  });
}

/**
 * Scales the gradients of `params` in place so that their total `normType`-norm (over all gradients
 * together, as if concatenated) is at most `maxNorm`: by maxNorm / (total + 1e-6) when that is below
 * 1, as torch does (and by 1 otherwise). Parameters without a gradient are skipped. Returns the total
 * norm before clipping as a 0-d tensor, still on the GPU. normType: any p > 0, or Infinity (max |g|).
 */
export function clipGradNorm(params: Tensor | readonly Tensor[], maxNorm: number, normType = 2): Tensor {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new Error(`clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  // The gradients are scaled by maxNorm / total: 0 would zero them, a negative max norm flip their sign.
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  if (typeof normType !== 'number' || !(normType > 0)) {
    throw new Error(`clipGradNorm: normType must be a number > 0 or Infinity, got ${normType}`);
  }
  const grads = gradsOf(params, 'clipGradNorm');
  if (grads.length === 0) return tensor([0], []);
  const norm = normType === 2 ? 'NORM_L2' : normType === Infinity ? 'NORM_MAX' : 'NORM_P';
  return tidy(() => {
    const counts = grads.map((g) => Math.ceil(Math.ceil(g.size / 4) / VEC4S_PER_PARTIAL));
    const partials = empty([counts.reduce((a, b) => a + b, 0)], 'float32', 'clipGradNorm partials');
    let offset = 0;
    grads.forEach((grad, i) => {
      dispatch(partialKernel, {
        workgroups: workgroups1d(Math.ceil(counts[i] / partialKernel.workgroupInvocations)),
        buffers: { grad, partials },
        uniforms: { count: grad.size, partialCount: counts[i], offset, p: normType },
        constants: { NORM: partialKernel.constant(norm) },
      });
      offset += counts[i];
    });
    const total = empty([], 'float32', 'clipGradNorm');
    const coef = empty([1], 'float32', 'clipGradNorm coefficient');
    dispatch(totalKernel, {
      workgroups: [1],
      buffers: { partials, total, coef },
      uniforms: { count: partials.size, p: normType, maxNorm },
      constants: { NORM: totalKernel.constant(norm) },
    });
    for (const grad of grads) {
      dispatch(scaleKernel, { workgroups: vec4Workgroups(scaleKernel, grad.size), buffers: { coef, grad }, uniforms: { count: grad.size } });
    }
    return total;
  });
}

/** A one-element int32 tensor on the GPU: 1 when some gradient of `params` holds a NaN or an
 *  infinity, else 0. Read it when convenient (a NaN guard may read it with the loss). */
export function nonFiniteFlag(params: Tensor | readonly Tensor[]): Tensor {
  return nonFiniteFlagOf(gradsOf(params, 'nonFiniteFlag'));
}

/** The same flag over the values of any float tensors (a loss, activations). */
export function nonFiniteFlagOf(tensors: readonly Tensor[]): Tensor {
  const flag = tensor(new Int32Array(1));
  for (const grad of tensors) {
    dispatch(nonFiniteKernel, { workgroups: vec4Workgroups(nonFiniteKernel, grad.size), buffers: { grad, flag }, uniforms: { count: grad.size } });
  }
  return flag;
}

/** Whether every gradient of `params` is finite (parameters without one count as finite). */
export async function gradsAreFinite(params: Tensor | readonly Tensor[]): Promise<boolean> {
  const flag = nonFiniteFlag(params);
  try {
    return (await flag.item()) === 0;
  } finally {
    flag.dispose();
  }
}
