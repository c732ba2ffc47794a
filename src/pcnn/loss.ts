/** PCNN's two-phase loss: alpha · CE(main head) + beta · CE(sum of the five sense heads). */
import { add, mul } from '../kernels/elementwise/index.js';
import { crossEntropy } from '../kernels/softmax/index.js';
import type { Tensor } from '../engine/tensor.js';

export interface PCNNLossOptions {
  /** Weight of the main head's cross-entropy (12 in the paper). */
  alpha?: number;
  /** Weight of the summed sense heads' cross-entropy (8 in the paper). */
  beta?: number;
  labelSmoothing?: number;
}

export function pcnnLoss(
  out: Tensor,
  heads: Tensor,
  labels: Int32Array | Tensor,
  { alpha = 12, beta = 8, labelSmoothing = 0 }: PCNNLossOptions = {},
): Tensor {
  if (out.ndim !== 2 || heads.shape.join() !== out.shape.join()) {
    throw new Error(`pcnnLoss: out [${out.shape}] and heads [${heads.shape}] must both be logits of shape [N, classes]`);
  }
  const main = crossEntropy(out, labels, { labelSmoothing });
  const local = crossEntropy(heads, labels, { labelSmoothing });
  return add(mul(main, alpha), mul(local, beta));
}
