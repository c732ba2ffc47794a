/**
 * scaledDotProductAttention(q, k, v, options): PyTorch's F.scaled_dot_product_attention, fused.
 * Shapes as PyTorch: q [N, ..., Hq, L, E], k [N, ..., H, S, E], v [N, ..., H, S, Ev] -> [N, ..., Hq, L, Ev],
 * the leading dimensions flattened into a batch of heads; with `enableGqa` Hq may be a multiple of H,
 * query head h reading key/value head h / (Hq / H).
 * - `attnMask`: float32, added to the scores, broadcastable to [N, ..., L, S]; read through broadcast
 *   strides (no copy) unless its batch broadcast needs more than four merged dimensions. Its gradient
 *   is the score gradient summed over the broadcast dimensions.
 * - `isCausal`: query l sees keys s <= l (top-left aligned when L != S, as PyTorch); an error with attnMask.
 * - `scale`: default 1 / sqrt(E).
 * - A query row whose every key is masked (all -inf): PyTorch returns NaN; here the row is zeros and
 *   passes zero gradient to q, k, v and the mask.
 * Forward: one kernel, keys walked in tiles with an online softmax, writing the output and the
 * per-row logsumexp (saved for the backward); the L x S scores are never stored. Backward
 * (FlashAttention-2): D = rowsum(dO * O), then dQ (per query row, over keys) and dK, dV (per key row,
 * over queries and the query heads of its group), each from probabilities recomputed with the
 * logsumexp; no float atomics. Plain variant: one invocation per row, its rows in registers, so E and
 * Ev are at most MAX_HEAD_DIM (128). Not yet: bool masks, dropout, a workgroup-tiled variant.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { sumToShape } from '../reduce/index.js';
import { attentionLayout, OP, type AttentionLayout, type AttentionOptions } from './layout.js';
import forwardSource from '../../../shaders/attention/attention_forward.wgsl';
import rowDotSource from '../../../shaders/attention/attention_backward_rowdot.wgsl';
import queryBackwardSource from '../../../shaders/attention/attention_backward_query.wgsl';
import keyBackwardSource from '../../../shaders/attention/attention_backward_key.wgsl';

export type { AttentionOptions } from './layout.js';

export const forwardKernel = new Kernel('attention_forward', forwardSource);
export const rowDotKernel = new Kernel('attention_backward_rowdot', rowDotSource);
export const queryBackwardKernel = new Kernel('attention_backward_query', queryBackwardSource);
export const keyBackwardKernel = new Kernel('attention_backward_key', keyBackwardSource);

/** One invocation per row, skipped when there are none. */
function dispatchRows(kernel: Kernel, rows: number, buffers: Record<string, Tensor>, uniforms: Record<string, number | number[]>, constants: Record<string, number>): void {
  if (rows === 0) return;
  dispatch(kernel, { workgroups: workgroups1d(Math.ceil(rows / kernel.workgroupInvocations)), buffers, uniforms, constants });
}

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const layout = attentionLayout(q, k, v, options, forwardKernel.constant('MAX_HEAD_DIM'));
  const { mask } = layout;
  const out = empty(layout.outShape, 'float32', OP);
  const lse = empty([layout.rows], 'float32', `${OP} logsumexp`);
  const constants = { HAS_MASK: Number(!!mask), CAUSAL: Number(layout.causal) };
  // Without a mask its binding is a placeholder the kernels never read.
  dispatchRows(forwardKernel, layout.rows, { q, k, v, mask: mask?.tensor ?? q, out, lse }, { rows: layout.rows, ...layout.uniforms }, constants);
  const inputs = mask ? [q, k, v, mask.source] : [q, k, v];
  // The mask's broadcast copy, when one was made, is read again by the backward: it is saved with lse.
  const saved = mask?.owned ? [lse, mask.tensor] : [lse];
  const result = record(out, OP, inputs, (grad) => attentionBackward(q, k, v, out, lse, grad, layout), saved);
  if (!result.requiresGrad) {
    lse.dispose();
    if (mask?.owned) mask.tensor.dispose();
  }
  return result;
}

function attentionBackward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, grad: Tensor, layout: AttentionLayout): (Tensor | null)[] {
  const { rows, keyRows, mask, uniforms } = layout;
  const wantMask = !!mask?.source.requiresGrad;
  const temporaries: Tensor[] = [];
  const scratch = (shape: number[], what: string) => {
    const t = empty(shape, 'float32', `${OP} backward ${what}`);
    temporaries.push(t);
    return t;
  };
  const rowDot = scratch([rows], 'rowDot');
  dispatchRows(rowDotKernel, rows, { gradOut: grad, out, rowDot }, { rows, valueDim: uniforms.valueDim as number }, {});

  const constants = { HAS_MASK: Number(!!mask), CAUSAL: Number(layout.causal) };
  const shared = { q, k, v, mask: mask?.tensor ?? q, gradOut: grad, lse, rowDot };
  let gradQuery: Tensor | null = null;
  let gradMask: Tensor | null = null;
  if (q.requiresGrad || wantMask) {
    gradQuery = empty(q.shape, 'float32', `${OP} backward query`);
    const gradScores = wantMask ? scratch([...layout.batchShape, uniforms.queryLength as number, uniforms.keyLength as number], 'scores') : scratch([1], 'placeholder');
    dispatchRows(queryBackwardKernel, rows, { ...shared, gradQuery, gradMask: gradScores }, { rows, ...uniforms }, { ...constants, WRITE_MASK_GRAD: Number(wantMask) });
    if (mask && wantMask) gradMask = sumToShape(gradScores, mask.source.shape);
    if (!q.requiresGrad) {
      gradQuery.dispose();
      gradQuery = null;
    }
  }
  let gradKey: Tensor | null = null;
  let gradValue: Tensor | null = null;
  if (k.requiresGrad || v.requiresGrad) {
    gradKey = empty(k.shape, 'float32', `${OP} backward key`);
    gradValue = empty(v.shape, 'float32', `${OP} backward value`);
    dispatchRows(keyBackwardKernel, keyRows, { ...shared, gradKey, gradValue }, { keyRows, ...uniforms }, constants);
    if (!k.requiresGrad) {
      gradKey.dispose();
      gradKey = null;
    }
    if (!v.requiresGrad) {
      gradValue.dispose();
      gradValue = null;
    }
  }
  for (const t of temporaries) t.dispose();
  return mask ? [gradQuery, gradKey, gradValue, gradMask] : [gradQuery, gradKey, gradValue];
}
