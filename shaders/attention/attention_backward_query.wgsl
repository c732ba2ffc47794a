// attention_backward_query: the query gradient of scaled dot-product attention (FlashAttention-2's dQ
// pass), and the score gradient when the float mask needs one. For query row r = b * L + l, with the
// probabilities recomputed from the forward's logsumexp instead of stored,
//   z_s = scale * dot(q[r], k[kv, s]) + mask[b, l, s]      P_s = exp(z_s - lse[r])
//   dP_s = keep_s dot(gradOut[r], v[kv, s])                  dZ_s = P_s (dP_s - rowDot[r])
//   gradQuery[r] = scale * sum_s dZ_s k[kv, s]               gradMask[r, s] = dZ_s   (WRITE_MASK_GRAD)
// rowDot[r] = dot(gradOut[r], out[r]) comes from attention_backward_rowdot (it is sum_s P_s dP_s with
// dropout too, since out sums P_s keep_s v_s). gradMask is the full [rows, keyLength] score gradient;
// the host sums it over the mask's broadcast dimensions. keep_s: the forward's dropout factor, 0 or
// keepScale, regenerated from (dropoutSeed, b, l, s) by the same hash (DROPOUT; 1 without).
//
// Thread mapping: invocation r (linear over the folded 2-D grid) owns query row r; its q row, its
// gradOut row and its gradQuery accumulator live in registers (headDim, valueDim <= MAX_HEAD_DIM, as
// the forward). Each invocation writes only its own rows, so no atomics. No workgroup memory.
// Heads, causal and mask addressing: as attention_forward (query head b reads key/value head
// outer * keyHeads + h / groupSize; CAUSAL keeps s <= l; the mask through broadcast strides, a float
// mask's words read by bitcast, a bool mask's (MASK_IS_BOOL) false keys left out, P = 0). Keys
// beyond the causal limit contribute nothing (and the mask, which then needs no gradient, cannot be
// present: the host refuses a mask with isCausal). A fully masked row has lse = LOWEST and z = -inf,
// so P = 0 and its gradients are zero.
// Bounds: invocations past `rows` return at once; workgroups fold into y past 65535.

override HAS_MASK: bool = false;
override MASK_IS_BOOL: bool = false;
override WRITE_MASK_GRAD: bool = false;
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
@group(0) @binding(5) var<storage, read> gradOut: array<f32>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read> rowDot: array<f32>;
@group(0) @binding(8) var<storage, read_write> gradQuery: array<f32>;
@group(0) @binding(9) var<storage, read_write> gradMask: array<f32>;

const WG = 64u;
/** The largest headDim and valueDim a row's registers hold. */
const MAX_HEAD_DIM = 128u;

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
  var gradQueryRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < E; e++) {
    qRow[e] = q[r * E + e] * params.scale;
    gradQueryRow[e] = 0.0;
  }
  var gradOutRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < Ev; e++) {
    gradOutRow[e] = gradOut[r * Ev + e];
  }
  let rowLse = lse[r];
  let rowD = rowDot[r];
  var rowKey = 0u;
  if (DROPOUT) {
    rowKey = dropoutRowKey(b, l);
  }

  for (var s = 0u; s < keyEnd; s++) {
    let kRow = (kv * S + s) * E;
    let vRow = (kv * S + s) * Ev;
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
      z += qRow[e] * k[kRow + e];
    }
    let p = exp(z - rowLse);
    var dp = 0.0;
    for (var e = 0u; e < Ev; e++) {
      dp += gradOutRow[e] * v[vRow + e];
    }
    if (DROPOUT) {
      dp *= dropoutScale(rowKey, s);
    }
    let dz = p * (dp - rowD);
    for (var e = 0u; e < E; e++) {
      gradQueryRow[e] += dz * k[kRow + e];
    }
    if (WRITE_MASK_GRAD) {
      gradMask[r * S + s] = dz;
    }
  }
  for (var e = 0u; e < E; e++) {
    gradQuery[r * E + e] = gradQueryRow[e] * params.scale;
  }
}
