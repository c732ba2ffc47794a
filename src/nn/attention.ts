/**
 * `MultiheadAttention` (torch.nn.MultiheadAttention) with PyTorch's state-dict names and initialisation:
 * `in_proj_weight` [3E, E] (or `q_proj_weight` [E, E], `k_proj_weight` [E, kdim], `v_proj_weight`
 * [E, vdim] when kdim or vdim differ from E, PyTorch's `_qkv_same_embed_dim` false), `in_proj_bias`
 * [3E], `out_proj.weight` [E, E], `out_proj.bias` [E]; xavier_uniform_ on the projections, zero biases,
 * out_proj's weight as Linear's (kaiming-uniform), all from the seeded default generator.
 *
 * Masks follow this module's PyTorch convention, the opposite of scaledDotProductAttention's for bools:
 * a bool `true` marks a key the query may NOT attend to, a float mask is added to the scores. Both
 * masks are turned into one additive float mask (-inf where not allowed) for the attention call.
 *
 * As in PyTorch, the fused kernel (scaledDotProductAttention) runs only when `needWeights` is false:
 * the attention weights are never materialised by it, so with `needWeights` the scores are computed
 * explicitly (softmax(q·kᵀ·scale + mask)) and the output is weights · v. There a query row whose every
 * key is masked gives NaN, as PyTorch; the fused path gives zeros (scaledDotProductAttention's policy).
 * Dropout (training mode) drops attention probabilities as PyTorch's: through scaledDotProductAttention's
 * dropoutP on the fused path, through `dropout` on the probabilities otherwise (the weights returned are
 * the dropped ones, as PyTorch's); the masks are seeded from `generator` (default the default generator).
 * Not yet: add_bias_kv, add_zero_attn.
 */
import { Module } from './module.js';
import { Linear } from './linear.js';
import { Kernel } from '../engine/kernel.js';
import { dispatch, workgroups1d } from '../engine/recorder.js';
import { empty, full, rand, upload, type Tensor } from '../engine/tensor.js';
import { linear, matmul } from '../kernels/matmul/index.js';
import { narrow, permute, reshape, transpose } from '../kernels/shape/index.js';
import { add, mul } from '../kernels/elementwise/index.js';
import { mean } from '../kernels/reduce/index.js';
import { softmax } from '../kernels/softmax/index.js';
import { scaledDotProductAttention } from '../kernels/attention/index.js';
import { dropout } from '../kernels/elementwise/dropout.js';
import { defaultGenerator, type Generator } from '../engine/random.js';
import boolMaskSource from '../../shaders/nn/bool_to_additive_mask.wgsl';

const boolMaskKernel = new Kernel('bool_to_additive_mask', boolMaskSource);

export interface MultiheadAttentionOptions {
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and output as (N, L, E) instead of (L, N, E). */
  batchFirst?: boolean;
  /** Feature sizes of key and value (default embedDim). */
  kdim?: number;
  vdim?: number;
  /** Dropout of the attention probabilities in training mode (0 by default). */
  dropout?: number;
  /** Source of the dropout masks' seeds (default: the default generator). */
  generator?: Generator;
}

export interface MultiheadAttentionForwardOptions {
  /** [N, S] (unbatched [S]): bool true = a padding key no query sees; float: added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [N·numHeads, L, S] (unbatched [numHeads, L, S]): bool true = not allowed; float: added. */
  attnMask?: Tensor | null;
  /** Return the attention weights (default true); false takes the fused path. */
  needWeights?: boolean;
  /** Average the returned weights over the heads (default true). */
  averageAttnWeights?: boolean;
  /** A hint that attnMask is the causal mask (PyTorch's): it is still required, and is replaced by the
   *  fused kernel's causal masking when needWeights is false and there is no keyPaddingMask. */
  isCausal?: boolean;
}

/** PyTorch's xavier_uniform_ for a [fanOut, fanIn] weight: U(±√(6 / (fanIn + fanOut))). */
function xavierUniform(shape: [number, number]): Tensor {
  const [fanOut, fanIn] = shape;
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return rand(shape, { low: -bound, high: bound });
}

/** A float32 mask as it is; a bool mask as 0 (allowed) / -inf (true: not allowed). */
function additiveMask(mask: Tensor, what: string): Tensor {
  if (mask.dtype === 'float32') return mask;
  if (mask.dtype !== 'bool') {
    throw new Error(`MultiheadAttention: ${what} must be a bool or float32 tensor, got ${mask.dtype} of shape [${mask.shape}]`);
  }
  const out = empty(mask.shape, 'float32', `MultiheadAttention ${what}`);
  if (out.size > 0) {
    dispatch(boolMaskKernel, {
      workgroups: workgroups1d(Math.ceil(out.size / boolMaskKernel.workgroupInvocations)),
      buffers: { mask, out },
      uniforms: { count: out.size, maskedValue: -Infinity },
    });
  }
  return out;
}

export class MultiheadAttention extends Module {
  readonly kdim: number;
  readonly vdim: number;
  readonly headDim: number;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly generator: Generator;
  /** PyTorch's `_qkv_same_embed_dim`: one packed in_proj_weight rather than three. */
  readonly qkvSameEmbedDim: boolean;
  readonly inProjWeight: Tensor | null;
  readonly qProjWeight: Tensor | null;
  readonly kProjWeight: Tensor | null;
  readonly vProjWeight: Tensor | null;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    { bias = true, batchFirst = false, kdim = embedDim, vdim = embedDim, dropout = 0, generator = defaultGenerator }: MultiheadAttentionOptions = {},
  ) {
    super();
    for (const [name, value] of [['embedDim', embedDim], ['numHeads', numHeads], ['kdim', kdim], ['vdim', vdim]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`MultiheadAttention: ${name} must be a positive integer, got ${value}`);
    }
    if (embedDim % numHeads) {
      throw new Error(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    }
    if (!(dropout >= 0 && dropout <= 1)) throw new Error(`MultiheadAttention: dropout must be in [0, 1], got ${dropout}`);
    this.kdim = kdim;
    this.vdim = vdim;
    this.headDim = embedDim / numHeads;
    this.batchFirst = batchFirst;
    this.dropout = dropout;
    this.generator = generator;
    this.qkvSameEmbedDim = kdim === embedDim && vdim === embedDim;
    // Registered in PyTorch's order, so that stateDict lists the keys as torch's state_dict() does.
    const same = this.qkvSameEmbedDim;
    this.inProjWeight = this.registerParameter('in_proj_weight', same ? xavierUniform([3 * embedDim, embedDim]) : null);
    this.qProjWeight = this.registerParameter('q_proj_weight', same ? null : xavierUniform([embedDim, embedDim]));
    this.kProjWeight = this.registerParameter('k_proj_weight', same ? null : xavierUniform([embedDim, kdim]));
    this.vProjWeight = this.registerParameter('v_proj_weight', same ? null : xavierUniform([embedDim, vdim]));
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? full([3 * embedDim], 0) : null);
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    // PyTorch's _reset_parameters zeroes out_proj.bias and leaves its weight as Linear made it.
    if (this.outProj.bias) upload(this.outProj.bias, new Float32Array(embedDim));
  }

  /** Returns [output, weights | null] as PyTorch's tuple: output (L, N, E) ((N, L, E) with batchFirst,
   *  (L, E) unbatched); weights (N, L, S) averaged over heads or (N, numHeads, L, S). */
  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const { keyPaddingMask = null, attnMask = null, needWeights = true, averageAttnWeights = true, isCausal = false } = options;
    const E = this.embedDim;
    const H = this.numHeads;
    const shapes = `query [${query.shape}], key [${key.shape}], value [${value.shape}]`;
    const where = `MultiheadAttention(${E}, ${H})`;
    const batched = query.ndim === 3;
    if ((query.ndim !== 2 && query.ndim !== 3) || key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new Error(`${where}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got ${shapes}`);
    }
    // Everything below is laid out batch-major, [N, L, E]: unbatched inputs are a batch of one, and
    // the sequence-first layout is permuted once, where the heads are split.
    const sequenceFirst = batched && !this.batchFirst;
    const dims = (t: Tensor) => (!batched ? { n: 1, length: t.shape[0] } : sequenceFirst ? { n: t.shape[1], length: t.shape[0] } : { n: t.shape[0], length: t.shape[1] });
    const { n: N, length: L } = dims(query);
    const { n: Nk, length: S } = dims(key);
    const { n: Nv, length: Sv } = dims(value);
    const features = (t: Tensor) => t.shape[t.ndim - 1];
    if (Nk !== N || Nv !== N || Sv !== S || features(query) !== E || features(key) !== this.kdim || features(value) !== this.vdim) {
      const layout = !batched ? '(L, E)' : sequenceFirst ? '(L, N, E)' : '(N, L, E)';
      throw new Error(
        `${where}: expected query, key and value in the ${layout} layout with one batch size, key and value of one length, ` +
          `and features embedDim ${E}, kdim ${this.kdim}, vdim ${this.vdim}; got ${shapes}`,
      );
    }
    if (isCausal && !attnMask) {
      throw new Error(`${where}: isCausal is a hint that attnMask is the causal mask (as PyTorch's), so it needs attnMask`);
    }

    const [q, k, v] = this.projectInputs(query, key, value);
    const splitHeads = (t: Tensor, length: number) =>
      permute(reshape(t, batched ? (sequenceFirst ? [length, N, H, this.headDim] : [N, length, H, this.headDim]) : [1, length, H, this.headDim]), sequenceFirst ? [1, 2, 0, 3] : [0, 2, 1, 3]);
    const qHeads = splitHeads(q, L);
    const kHeads = splitHeads(k, S);
    const vHeads = splitHeads(v, S);

    const mask = this.combinedMask(attnMask, keyPaddingMask, { N, L, S, batched, where });
    let attended: Tensor;
    let weights: Tensor | null = null;
    if (needWeights) {
      const scores = matmul(mul(qHeads, 1 / Math.sqrt(this.headDim)), transpose(kHeads, -1, -2));
      const probabilities = dropout(softmax(mask ? add(scores, mask) : scores, -1), { p: this.dropout, training: this.training, generator: this.generator });
      attended = matmul(probabilities, vHeads);
      const perHead = averageAttnWeights ? mean(probabilities, 1) : probabilities;
      weights = batched ? perHead : reshape(perHead, perHead.shape.slice(1));
    } else {
      const causalOnly = isCausal && !keyPaddingMask;
      const dropping = this.training && this.dropout > 0 ? { dropoutP: this.dropout, generator: this.generator } : {};
      attended = scaledDotProductAttention(qHeads, kHeads, vHeads, { ...(causalOnly ? { isCausal: true } : { attnMask: mask }), ...dropping });
    }
    // [N, H, L, headDim] back to the input's layout, heads merged into E.
    const merged = permute(attended, sequenceFirst ? [2, 0, 1, 3] : [0, 2, 1, 3]);
    const out = this.outProj.forward(reshape(merged, batched ? (sequenceFirst ? [L, N, E] : [N, L, E]) : [L, E]));
    return [out, weights];
  }

  /** q, k, v = the three input projections, from the packed weight's row blocks or the separate ones. */
  private projectInputs(query: Tensor, key: Tensor, value: Tensor): [Tensor, Tensor, Tensor] {
    const E = this.embedDim;
    const packed = this.inProjWeight;
    const weights = packed ? [0, 1, 2].map((i) => narrow(packed, 0, i * E, E)) : [this.qProjWeight!, this.kProjWeight!, this.vProjWeight!];
    const bias = this.inProjBias;
    const biases = [0, 1, 2].map((i) => (bias ? narrow(bias, 0, i * E, E) : null));
    return [query, key, value].map((x, i) => linear(x, weights[i], biases[i])) as [Tensor, Tensor, Tensor];
  }

  /**
   * attnMask and keyPaddingMask as one additive float mask that broadcasts against the scores
   * [N, H, L, S]: attnMask [L, S] as it is, [N·H, L, S] (unbatched [H, L, S]) as [N, H, L, S];
   * keyPaddingMask [N, S] (unbatched [S]) as [N, 1, 1, S]. Null when there is neither.
   */
  private combinedMask(
    attnMask: Tensor | null,
    keyPaddingMask: Tensor | null,
    { N, L, S, batched, where }: { N: number; L: number; S: number; batched: boolean; where: string },
  ): Tensor | null {
    const H = this.numHeads;
    let combined: Tensor | null = null;
    if (attnMask) {
      const perHead = batched ? `[${N * H}, ${L}, ${S}]` : `[${H}, ${L}, ${S}]`;
      const is2d = attnMask.ndim === 2 && attnMask.shape[0] === L && attnMask.shape[1] === S;
      const is3d = attnMask.ndim === 3 && attnMask.shape[0] === (batched ? N * H : H) && attnMask.shape[1] === L && attnMask.shape[2] === S;
      if (!is2d && !is3d) {
        throw new Error(`${where}: attnMask must be [${L}, ${S}] (L, S) or ${perHead} (N·numHeads, L, S), got [${attnMask.shape}]`);
      }
      const additive = additiveMask(attnMask, 'attnMask');
      combined = is3d ? reshape(additive, [batched ? N : 1, H, L, S]) : additive;
    }
    if (keyPaddingMask) {
      const expected = batched ? [N, S] : [S];
      if (String(keyPaddingMask.shape) !== String(expected)) {
        throw new Error(`${where}: keyPaddingMask must be [${expected}] (${batched ? 'N, S' : 'S'}), got [${keyPaddingMask.shape}]`);
      }
      const padding = reshape(additiveMask(keyPaddingMask, 'keyPaddingMask'), [batched ? N : 1, 1, 1, S]);
      combined = combined ? add(combined, padding) : padding;
    }
    return combined;
  }
}
