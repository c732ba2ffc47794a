/**
 * conv2d with torch.nn.functional.conv2d semantics, its fused form (bias + residual + ReLU in the
 * kernel's store), the dedicated backward kernels, and BatchNorm folding for inference.
 */
import { record } from '../../engine/autograd.js';
import type { Tensor } from '../../engine/tensor.js';
import { conv2dGeometry, outputShape, type Conv2dGeometry, type Conv2dOptions } from './geometry.js';
import { chooseForwardVariant, conv2dForward, supportsVariant, type ForwardVariant } from './forward.js';
import { backwardData, type BackwardVariant } from './backward_data.js';
import { backwardBias, backwardWeight } from './backward_weight.js';
import { preferRows, preferRowsForWeightGrad } from './tuning.js';
import { sharedLoadsMissing } from '../subgroups.js';
import { reluBackward } from '../elementwise/index.js';
import { expectFloat32 } from '../checks.js';

export { foldBatchNorm } from './fold_batchnorm.js';
export { conv2dMacs, type Conv2dOptions, type Pair } from './geometry.js';
export type { ForwardVariant } from './forward.js';
export type { BackwardVariant } from './backward_data.js';

export interface Conv2dForwardOptions extends Conv2dOptions {
  /** Forces a forward kernel (tests, benchmarks); by default the fastest for the shape is chosen. */
  variant?: ForwardVariant;
}

export interface Conv2dBackwardOptions extends Conv2dOptions {
  /** Forces a backward kernel (tests, benchmarks); by default the fastest for the shape is chosen. */
  variant?: BackwardVariant;
}

export interface Conv2dFusedOptions extends Conv2dForwardOptions {
  /** Added to the convolution (and bias) before the ReLU; the shape of the output. */
  residual?: Tensor | null;
  relu?: boolean;
}

/** Backward-data kernel for the shape: `rows` where the adapter's tuning prefers it, unless fewer than
 *  8 input channels would fill half its 16 columns (the 3-channel stem: tiles 1.8x faster on lavapipe). */
export function chooseBackwardDataVariant(g: Conv2dGeometry): BackwardVariant {
  return preferRows(g) && g.Cg >= 8 ? 'rows' : 'tiles';
}

/** Backward-weight kernel for the shape: `rows` where the adapter's tuning prefers it. */
export function chooseBackwardWeightVariant(g: Conv2dGeometry): BackwardVariant {
  return preferRowsForWeightGrad(g) ? 'rows' : 'tiles';
}

function checkVector(t: Tensor, length: number, what: string, g: Conv2dGeometry): void {
  if (t.ndim !== 1 || t.shape[0] !== length) {
    throw new Error(`conv2d: ${what} has shape [${t.shape}], expected [${length}] for ${g.O} output channels`);
  }
}

/**
 * act(conv2d(x, weight, bias) + residual), act = ReLU when `relu`, in one kernel. Gradients flow to
 * x, weight, bias and residual; the ReLU mask is taken from the output.
 */
export function conv2dFused(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dFusedOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, options);
  const residual = options.residual ?? null;
  const relu = options.relu ?? false;
  for (const [what, t] of Object.entries({ input: x, weight, bias, residual })) {
    if (t) expectFloat32('conv2d', what, t);
  }
  if (bias) checkVector(bias, g.O, 'bias', g);
  if (residual && residual.shape.join() !== outputShape(g).join()) {
    throw new Error(`conv2d: residual has shape [${residual.shape}], expected the output shape [${outputShape(g)}]`);
  }
  const fused = !!bias || !!residual || relu;
  const variant = checkRowsVariant(options.variant ?? chooseForwardVariant(g), 'conv2d');
  if (!supportsVariant(g, variant, fused)) {
    throw new Error(
      `conv2d: variant '${variant}' does not support weight [${weight.shape}] with stride [${g.stride}], ` +
        `padding [${g.padding}], dilation [${g.dilation}]` + (fused ? ', bias, residual or ReLU' : ''),
    );
  }
  const y = conv2dForward(x, weight, g, { bias, residual, relu }, variant);

  const inputs = [x, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  return record(y, relu || residual ? 'conv2dFused' : 'conv2d', inputs, (grad) => {
    const gy = relu ? reluBackward(grad, y) : grad;
    const grads: (Tensor | null)[] = [
      x.requiresGrad ? backwardData(gy, weight, g, chooseBackwardDataVariant(g)) : null,
      weight.requiresGrad ? backwardWeight(x, gy, g, chooseBackwardWeightVariant(g)) : null,
    ];
    if (bias) grads.push(bias.requiresGrad ? backwardBias(gy) : null);
    if (residual) grads.push(residual.requiresGrad ? gy : null);
    if (gy !== grad && !residual?.requiresGrad) gy.dispose();
    return grads;
  });
}

/** torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dForwardOptions = {}): Tensor {
  return conv2dFused(x, weight, bias, { ...options, residual: null, relu: false });
}

function checkGradient(dy: Tensor, g: Conv2dGeometry, op: string): void {
  if (dy.shape.join() !== outputShape(g).join()) {
    throw new Error(`${op}: gradient has shape [${dy.shape}], expected the convolution's output shape [${outputShape(g)}]`);
  }
}

function checkRowsVariant<V extends ForwardVariant | BackwardVariant>(variant: V, op: string): V {
  const missing = variant === 'rows' ? sharedLoadsMissing() : null;
  if (missing) throw new Error(`${op}: variant 'rows' ${missing} (use 'tiles')`);
  return variant;
}

/** Gradient wrt the input (torch.nn.grad.conv2d_input): dx of shape `inputShape`. Not recorded. */
export function conv2dBackwardData(
  dy: Tensor,
  weight: Tensor,
  inputShape: readonly number[],
  options: Conv2dBackwardOptions = {},
): Tensor {
  const g = conv2dGeometry(inputShape, weight.shape, options);
  checkGradient(dy, g, 'conv2dBackwardData');
  return backwardData(dy, weight, g, checkRowsVariant(options.variant ?? chooseBackwardDataVariant(g), 'conv2dBackwardData'));
}

/** Gradient wrt the weight (torch.nn.grad.conv2d_weight): dweight of shape `weightShape`. Not recorded. */
export function conv2dBackwardWeight(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  options: Conv2dBackwardOptions = {},
): Tensor {
  const g = conv2dGeometry(x.shape, weightShape, options);
  checkGradient(dy, g, 'conv2dBackwardWeight');
  return backwardWeight(x, dy, g, checkRowsVariant(options.variant ?? chooseBackwardWeightVariant(g), 'conv2dBackwardWeight'));
}

/** Gradient wrt the bias: the sum of dy [N, O, OH, OW] over N, OH and OW. Not recorded. */
export const conv2dBackwardBias = backwardBias;
