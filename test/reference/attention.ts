// Float64 reference for scaled dot-product attention, the plain formula with every L x S score
// materialised: scores = scale * q k^T + mask (or the causal tril), softmax over keys, weighted sum
// of values, then PyTorch's dropout of the probabilities (P * keep / (1 - p)) when the case has one.
// A row with every key masked gives zeros (the engine's policy; PyTorch gives NaN). A bool mask is
// passed here as the float mask it means (0 where true, -inf where false).
//
// The dropout decision is the engine's documented function of (seed, query head b, query row l, key
// column s), written again here from its definition, independently of the WGSL: PCG's output
// permutation (Jarzynski & Olano 2020) chained as h = pcg(pcg(pcg(pcg(seed) ^ pcg(b)) ^ pcg(l)) ^ pcg(s)) in u32
// arithmetic; the score is dropped when h >>> 8 < round(p * 2^24).

export interface AttentionCase {
  /** [N, ..., Hq, L, E] */
  qShape: number[];
  /** [N, ..., H, S, E] */
  kShape: number[];
  /** [N, ..., H, S, Ev] */
  vShape: number[];
  maskShape?: number[];
  causal?: boolean;
  scale?: number;
  /** Dropout of the probabilities with the seed the call drew. */
  dropout?: { p: number; seed: number };
}

/** PCG's output permutation as the WGSL kernels state it (attention, dropout), in 32-bit host arithmetic. */
export function pcg(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Whether the dropout keeps the probability of key s for query row l of query head b. */
export function dropoutKeeps(seed: number, p: number, b: number, l: number, s: number): boolean {
  const hash = pcg((pcg((pcg((pcg(seed) ^ pcg(b)) >>> 0) ^ pcg(l)) >>> 0) ^ pcg(s)) >>> 0);
  return hash >>> 8 >= Math.round(p * 2 ** 24);
}

/** Offset into a row-major tensor of `shape` of the element at `index` of the shape it broadcasts to
 *  (aligned on the right; size-1 dimensions repeat). */
function broadcastOffset(shape: readonly number[], index: readonly number[]): number {
  const lead = index.length - shape.length;
  let offset = 0;
  for (let d = 0; d < shape.length; d++) offset = offset * shape[d] + (shape[d] === 1 ? 0 : index[lead + d]);
  return offset;
}

/** The [N, ..., Hq, L, Ev] output; `mask` is read when the case has a maskShape. */
export function attentionReference(c: AttentionCase, q: Float64Array, k: Float64Array, v: Float64Array, mask?: Float64Array): Float64Array {
  const n = c.qShape.length;
  const [L, E] = c.qShape.slice(-2);
  const S = c.kShape[n - 2];
  const Ev = c.vShape[n - 1];
  const batchShape = c.qShape.slice(0, -2);
  const B = batchShape.reduce((a, b) => a * b, 1);
  const queryHeads = n >= 3 ? c.qShape[n - 3] : 1;
  const keyHeads = n >= 3 ? c.kShape[n - 3] : 1;
  const scale = c.scale ?? 1 / Math.sqrt(E);
  const dropout = c.dropout;
  const keepScale = dropout && dropout.p < 1 ? 1 / (1 - dropout.p) : 0;
  const out = new Float64Array(B * L * Ev);
  const scores = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    const batchIndex: number[] = [];
    for (let d = batchShape.length - 1, rest = b; d >= 0; d--) {
      batchIndex.unshift(rest % batchShape[d]);
      rest = Math.floor(rest / batchShape[d]);
    }
    const head = b % queryHeads;
    const kv = Math.floor(b / queryHeads) * keyHeads + Math.floor(head / (queryHeads / keyHeads));
    for (let l = 0; l < L; l++) {
      let max = -Infinity;
      for (let s = 0; s < S; s++) {
        let z = 0;
        for (let e = 0; e < E; e++) z += q[(b * L + l) * E + e] * k[(kv * S + s) * E + e];
        z *= scale;
        if (c.maskShape) z += mask![broadcastOffset(c.maskShape, [...batchIndex, l, s])];
        if (c.causal && s > l) z = -Infinity;
        scores[s] = z;
        max = Math.max(max, z);
      }
      if (max === -Infinity) continue; // fully masked: zeros
      let sum = 0;
      for (let s = 0; s < S; s++) sum += Math.exp(scores[s] - max);
      for (let s = 0; s < S; s++) {
        let p = Math.exp(scores[s] - max) / sum;
        if (dropout) p *= dropoutKeeps(dropout.seed, dropout.p, b, l, s) ? keepScale : 0;
        for (let e = 0; e < Ev; e++) out[(b * L + l) * Ev + e] += p * v[(kv * S + s) * Ev + e];
      }
    }
  }
  return out;
}
