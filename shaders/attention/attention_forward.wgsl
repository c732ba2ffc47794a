// attention_forward: fused scaled dot-product attention, one query row per invocation. For query row
// r = b * L + l (b: the flattened batch of query heads, l: the query position) and its key/value head
// kv(b), with scores  z_s = scale * dot(q[r], k[kv, s]) + mask[b, l, s]  over the keys s allowed to it,
//   out[r] = sum_s softmax(z)_s keep_s v[kv, s]   lse[r] = log(sum_s exp(z_s))   (saved for the backward),
// keep_s = 1 without dropout; with DROPOUT it is 0 or 1 / (1 - p) (PyTorch's dropout of the
// probabilities, after the softmax: the logsumexp is of the undropped scores).
// The L x S score matrix is never stored: the keys are walked in tiles of KEY_TILE with an online
// softmax, a running max m and a running sum of exp(z - m); the accumulator of sum exp(z - m) v is
// rescaled by exp(m_old - m_new) once per tile, when the tile's max raises m.
//
// Thread mapping: invocation r (linear over the folded 2-D grid) owns query row r of `rows` = B * L;
// its q row and its output accumulator live in registers, so headDim and valueDim are at most
// MAX_HEAD_DIM (the host refuses more). No workgroup memory, no barrier.
// Heads: query head b = outer * queryHeads + h reads key/value head outer * keyHeads + h / groupSize
// (grouped-query attention; groupSize = 1 for plain multi-head attention).
// Masking: CAUSAL keeps keys s <= l (top-left aligned, as PyTorch's tril when L != S); HAS_MASK reads a
// mask through broadcast strides: the batch index b decomposed over maskBatchShape (at most four merged
// dimensions, outermost first) with maskBatchStride, then l * maskRowStride + s * maskColStride. The
// binding is u32 words: a float mask (added to z) is read by bitcast, a bool mask (MASK_IS_BOOL, 0 / 1
// words, 1 = the key takes part) leaves out its false keys, which are not scored at all.
// A row whose every score is -inf or left out (fully masked) has sum 0: it writes zeros and lse = LOWEST,
// so that the backward's probabilities are 0 there too (PyTorch gives NaN; our policy is zeros).
// Dropout: keep_s is a function of (dropoutSeed, b, l, s) by a counter-based hash (PCG's output
// permutation chained over the four numbers, each index hashed before it is mixed in, so that rows whose
// keys differ by a small amount do not get shifted copies of one mask), so the backward kernels
// regenerate it and it is never
// stored: the score is kept when the top DROPOUT_BITS bits of the hash are at least dropoutThreshold
// (round(p * 2^DROPOUT_BITS)), and scaled by keepScale (1 / (1 - p)).
// The running max starts at the lowest finite f32, not -inf, so that exp(z - m) is never exp(-inf + inf).
// Bounds: invocations past `rows` return at once; workgroups fold into y past 65535
// (linear index wid.x + wid.y * nwg.x).

override HAS_MASK: bool = false;
override MASK_IS_BOOL: bool = false;
override CAUSAL: bool = false;
override DROPOUT: bool = false;
// headDim and valueDim, fixed per pipeline (the host passes the uniforms' values): every loop over a
// row's registers then has a constant trip count, so that the compiler unrolls it and keeps the private
// rows in registers and spill slots instead of indexing them lane by lane (about 3x on lavapipe).
override HEAD_DIM: u32;
override VALUE_DIM: u32;

struct Params {
  rows: u32,
  queryLength: u32,
  keyLength: u32,
  headDim: u32,
  valueDim: u32,
  queryHeads: u32,
  groupSize: u32,
  scale: f32,
  maskRowStride: u32,
  maskColStride: u32,
  dropoutSeed: u32,
  dropoutThreshold: u32,
  keepScale: f32,
  maskBatchShape: vec4<u32>,
  maskBatchStride: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

const WG = 64u;
/** The largest headDim and valueDim a row's registers hold. */
const MAX_HEAD_DIM = 128u;
/** Keys scored before the accumulator is rescaled (at most 32: a u32 holds which of them take part). */
const KEY_TILE = 16u;
const LOWEST: f32 = bitcast<f32>(0xff7fffffu);

/** The top bits of a score's hash compared with dropoutThreshold (round(p * 2^DROPOUT_BITS)). */
const DROPOUT_BITS = 24u;

// <pcg-hash> (identical in every hashed-dropout shader; a test checks it)
/** PCG's state step and output permutation (Jarzynski & Olano 2020): a well-mixed bijection of u32. */
fn pcgHash(bits: u32) -> u32 {
  let state = bits * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
// </pcg-hash>

// <attention-rules> (identical in the nine attention shaders that score q against k; a test checks it)
/** The hash of (dropoutSeed, b, l) that each key column s of query row l of head b continues. */
fn dropoutRowKey(b: u32, l: u32) -> u32 {
  return pcgHash(pcgHash(pcgHash(params.dropoutSeed) ^ pcgHash(b)) ^ pcgHash(l));
}

/** keep_s for key column s of the row whose dropoutRowKey is rowKey: 0 or keepScale. */
fn dropoutScale(rowKey: u32, s: u32) -> f32 {
  return select(0.0, params.keepScale, (pcgHash(rowKey ^ pcgHash(s)) >> (32u - DROPOUT_BITS)) >= params.dropoutThreshold);
}

/** Offset of mask[b, 0, 0] under the broadcast strides. */
fn maskBatchOffset(b: u32) -> u32 {
  var rest = b;
  var offset = 0u;
  for (var d = 3i; d >= 0i; d--) {
    let size = params.maskBatchShape[d];
    offset += (rest % size) * params.maskBatchStride[d];
    rest /= size;
  }
  return offset;
}
// </attention-rules>

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= params.rows) {
    return;
  }
  let E = HEAD_DIM;
  let Ev = VALUE_DIM;
  let S = params.keyLength;
  let b = r / params.queryLength;
  let l = r - b * params.queryLength;
  let keyHeads = params.queryHeads / params.groupSize;
  let kv = (b / params.queryHeads) * keyHeads + (b % params.queryHeads) / params.groupSize;
  var keyEnd = S;
  if (CAUSAL) {
    keyEnd = min(S, l + 1u);
  }
  var maskRow = 0u;
  if (HAS_MASK) {
    maskRow = maskBatchOffset(b) + l * params.maskRowStride;
  }

  var qRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < E; e++) {
    qRow[e] = q[r * E + e] * params.scale;
  }
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < Ev; e++) {
    acc[e] = 0.0;
  }
  var rowKey = 0u;
  if (DROPOUT) {
    rowKey = dropoutRowKey(b, l);
  }
  var runningMax = LOWEST;
  var runningSum = 0.0;
  var scores: array<f32, KEY_TILE>;

  for (var tileStart = 0u; tileStart < keyEnd; tileStart += KEY_TILE) {
    let tileLength = min(KEY_TILE, keyEnd - tileStart);
    var tileMax = runningMax;
    // Bit j: key tileStart + j takes part (a bool mask's false keys are left out, not scored).
    var tileKept = 0u;
    for (var j = 0u; j < tileLength; j++) {
      let s = tileStart + j;
      var z = 0.0;
      if (HAS_MASK) {
        let maskWord = mask[maskRow + s * params.maskColStride];
        if (MASK_IS_BOOL) {
          if (maskWord == 0u) {
            continue;
          }
        } else {
          z = bitcast<f32>(maskWord);
        }
      }
      for (var e = 0u; e < E; e++) {
        z += qRow[e] * k[(kv * S + s) * E + e];
      }
      scores[j] = z;
      tileKept |= 1u << j;
      tileMax = max(tileMax, z);
    }
    let rescale = exp(runningMax - tileMax);
    runningMax = tileMax;
    runningSum *= rescale;
    for (var e = 0u; e < Ev; e++) {
      acc[e] *= rescale;
    }
    for (var j = 0u; j < tileLength; j++) {
      if ((tileKept & (1u << j)) == 0u) {
        continue;
      }
      let p = exp(scores[j] - runningMax);
      runningSum += p;
      var weight = p;
      if (DROPOUT) {
        weight *= dropoutScale(rowKey, tileStart + j);
      }
      let vRow = (kv * S + tileStart + j) * Ev;
      for (var e = 0u; e < Ev; e++) {
        acc[e] += weight * v[vRow + e];
      }
    }
  }

  // Fully masked (or no keys): zeros, and an lse under which every recomputed probability is 0.
  let inverseSum = select(0.0, 1.0 / runningSum, runningSum > 0.0);
  for (var e = 0u; e < Ev; e++) {
    out[r * Ev + e] = acc[e] * inverseSum;
  }
  lse[r] = select(LOWEST, runningMax + log(runningSum), runningSum > 0.0);
}
