/**
 * The shapes of one scaledDotProductAttention call, checked against PyTorch's rules, and the uniforms its
 * kernels share: heads flattened into a batch, the grouped-query head ratio, the scale, the mask's
 * broadcast strides and the dropout's seed, threshold and scale.
 */
import { dropoutThreshold } from '../elementwise/dropout.js';
import { numel, type Tensor } from '../../engine/tensor.js';
import { broadcastsTo, coalesce } from '../shape/layout.js';
import { broadcastStrides, broadcastTo } from '../shape/strided_copy.js';
import { expectFloat32 } from '../checks.js';
import { defaultGenerator, type Generator } from '../../engine/random.js';

export const OP = 'scaledDotProductAttention';

/** Batch dimensions of the mask the kernels decompose (a WGSL vec4 of sizes and one of strides). */
const MASK_BATCH_DIMS = 4;
/** What the kernels' WGSL fixes: the register rows' length, and how many top bits of a score's hash
 *  the dropout compares with round(dropoutP * 2^dropoutBits). */
export interface KernelLimits {
  maxHeadDim: number;
  dropoutBits: number;
}

export interface AttentionOptions {
  /** Broadcastable to [N, ..., L, S]: a float32 mask added to the scores (-inf removes a key), or a
   *  bool mask (true: the key takes part, PyTorch's convention; it has no gradient). */
  attnMask?: Tensor | null;
  /** Causal masking, top-left aligned (query l sees keys s <= l), as PyTorch; not with attnMask. */
  isCausal?: boolean;
  /** The factor on q·k; default 1 / sqrt(E). */
  scale?: number | null;
  /** Grouped-query attention: q may have a multiple of k's and v's heads. */
  enableGqa?: boolean;
  /** Dropout of the attention probabilities, after the softmax (P' = P * keep / (1 - p)), in [0, 1]. */
  dropoutP?: number;
  /** Where the dropout's seed is drawn from, once per call (one u32); default the default generator. */
  generator?: Generator;
}

export interface MaskLayout {
  /** The mask as the kernels read it: the caller's tensor, or its broadcast copy (`owned`). */
  tensor: Tensor;
  owned: boolean;
  /** The caller's mask: its size-1 / missing dimensions are the ones its gradient is summed over. */
  source: Tensor;
  /** A bool mask: read as 0 / 1 words, no gradient. */
  isBool: boolean;
}

export interface AttentionLayout {
  /** [N, ..., Hq] of q: the batch of query heads. */
  batchShape: number[];
  /** Query rows, B * L. */
  rows: number;
  /** Key (and value) rows, Bkv * S. */
  keyRows: number;
  outShape: number[];
  causal: boolean;
  mask: MaskLayout | null;
  /** dropoutP > 0: the kernels regenerate the dropout from uniforms.dropoutSeed. */
  dropout: boolean;
  uniforms: Record<string, number | number[]>;
}

function shapeOf(t: Tensor): string {
  return `[${t.shape}]`;
}

/** Checks q, k, v and the options and lays them out for the kernels (the mask's copy, if one is made,
 *  is the caller's to dispose: `mask.owned`). */
export function attentionLayout(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions, { maxHeadDim, dropoutBits }: KernelLimits): AttentionLayout {
  expectFloat32(OP, 'query', q);
  expectFloat32(OP, 'key', k);
  expectFloat32(OP, 'value', v);
  const { attnMask = null, isCausal = false, enableGqa = false, dropoutP = 0 } = options;
  const shapes = `query ${shapeOf(q)}, key ${shapeOf(k)}, value ${shapeOf(v)}`;
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new Error(`${OP}: dropoutP must be in [0, 1], got ${dropoutP}`);
  if (q.ndim < 2 || k.ndim !== q.ndim || v.ndim !== q.ndim) {
    throw new Error(`${OP}: expected query, key and value of one rank, at least 2 ([..., L, E], [..., S, E], [..., S, Ev]), got ${shapes}`);
  }
  const n = q.ndim;
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  const [Sv, Ev] = v.shape.slice(-2);
  if (Ek !== E || Sv !== S) {
    throw new Error(`${OP}: key must be [..., S, E] with the query's E = ${E} and value [..., S, Ev] with the key's S = ${S}, got ${shapes}`);
  }
  if (E < 1) throw new Error(`${OP}: the head dimension E must be at least 1, got ${shapes}`);
  if (E > maxHeadDim || Ev > maxHeadDim) {
    throw new Error(`${OP}: head dimensions E = ${E} and Ev = ${Ev} must be at most ${maxHeadDim} (the register-row kernel's limit), got ${shapes}`);
  }
  const lead = (t: Tensor) => t.shape.slice(0, Math.max(0, n - 3));
  if (String(lead(k)) !== String(lead(q)) || String(lead(v)) !== String(lead(q)) || (n >= 3 && k.shape[n - 3] !== v.shape[n - 3])) {
    throw new Error(`${OP}: query, key and value must agree on every dimension before the last two (but the query's heads under enableGqa), got ${shapes}`);
  }
  const queryHeads = n >= 3 ? q.shape[n - 3] : 1;
  const keyHeads = n >= 3 ? k.shape[n - 3] : 1;
  if (queryHeads !== keyHeads && !(enableGqa && keyHeads > 0 && queryHeads % keyHeads === 0)) {
    throw new Error(
      `${OP}: query has ${queryHeads} heads and key/value ${keyHeads}; ` +
        (enableGqa ? 'with enableGqa the query heads must be a multiple of the key heads' : 'they must be equal unless enableGqa is set'),
    );
  }
  const scale = options.scale ?? 1 / Math.sqrt(E);
  if (!Number.isFinite(scale)) throw new Error(`${OP}: scale must be a finite number, got ${scale}`);

  const batchShape = q.shape.slice(0, -2);
  const B = numel(batchShape);
  const uniforms: Record<string, number | number[]> = {
    queryLength: L,
    keyLength: S,
    headDim: E,
    valueDim: Ev,
    queryHeads: Math.max(queryHeads, 1),
    groupSize: keyHeads > 0 ? queryHeads / keyHeads : 1,
    scale,
    maskRowStride: 0,
    maskColStride: 0,
    dropoutSeed: 0,
    dropoutThreshold: 0,
    keepScale: 1,
    maskBatchShape: new Array(MASK_BATCH_DIMS).fill(1),
    maskBatchStride: new Array(MASK_BATCH_DIMS).fill(0),
  };

  let mask: MaskLayout | null = null;
  if (attnMask !== null) {
    if (isCausal) throw new Error(`${OP}: attnMask and isCausal cannot both be set (as in PyTorch); fold the causal mask into attnMask`);
    const isBool = attnMask.dtype === 'bool';
    if (!isBool) expectFloat32(OP, 'attnMask (or a bool tensor)', attnMask);
    const target = [...batchShape, L, S];
    if (!broadcastsTo(attnMask.shape, target)) {
      throw new Error(`${OP}: attnMask of shape ${shapeOf(attnMask)} does not broadcast to the scores' shape [${target}] (${shapes})`);
    }
    // The kernels read the mask through broadcast strides; only a batch broadcast that does not merge
    // into MASK_BATCH_DIMS dimensions (rare: alternating broadcast and full dimensions) is copied out.
    let read = attnMask;
    let strides = broadcastStrides(attnMask.shape, target);
    let batch = coalesce(batchShape, [strides.slice(0, -2)]);
    const owned = batch.shape.length > MASK_BATCH_DIMS;
    if (owned && isBool) {
      throw new Error(
        `${OP}: a bool attnMask of shape ${shapeOf(attnMask)} broadcast to [${target}] needs more than ${MASK_BATCH_DIMS} merged batch dimensions, ` +
          'which only float masks support yet (by a copy); pass it as a float mask (0 / -inf) or expand it',
      );
    }
    if (owned) {
      read = broadcastTo(attnMask, target, OP);
      strides = broadcastStrides(target, target);
      batch = coalesce(batchShape, [strides.slice(0, -2)]);
    }
    const pad = MASK_BATCH_DIMS - batch.shape.length;
    uniforms.maskBatchShape = [...new Array(pad).fill(1), ...batch.shape];
    uniforms.maskBatchStride = [...new Array(pad).fill(0), ...batch.strides[0]];
    uniforms.maskRowStride = strides[n - 2];
    uniforms.maskColStride = strides[n - 1];
    mask = { tensor: read, owned, source: attnMask, isBool };
  }
  // Drawn last, so that a refused call leaves the generator as it was; p = 0 draws nothing.
  const dropout = dropoutP > 0;
  if (dropout) {
    uniforms.dropoutSeed = (options.generator ?? defaultGenerator).nextUint32();
    const { threshold, keepScale } = dropoutThreshold(dropoutP, dropoutBits);
    uniforms.dropoutThreshold = threshold;
    uniforms.keepScale = keepScale;
  }
  return {
    batchShape,
    rows: B * L,
    keyRows: (keyHeads > 0 ? (B / Math.max(queryHeads, 1)) * keyHeads : 0) * S,
    outShape: [...batchShape, L, Ev],
    causal: isCausal,
    mask,
    dropout,
    uniforms,
  };
}
