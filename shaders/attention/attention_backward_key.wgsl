// attention_backward_key: the key and value gradients of scaled dot-product attention (FlashAttention-2's
// dK / dV pass). For key row t = kv * S + s of key/value head kv, summed over the query heads b that
// read kv (groupSize of them under grouped-query attention) and over their query rows r = b * L + l,
// with the probabilities recomputed from the forward's logsumexp:
//   z = scale * dot(q[r], k[t]) + mask[b, l, s]     P = exp(z - lse[r])
//   dP = keep dot(gradOut[r], v[t])                  dZ = P (dP - rowDot[r])
//   gradValue[t] = sum P keep gradOut[r]             gradKey[t] = scale * sum dZ q[r]
// rowDot[r] = dot(gradOut[r], out[r]) comes from attention_backward_rowdot. keep: the forward's dropout
// factor for (b, l, s), 0 or keepScale, regenerated from dropoutSeed by the same hash (DROPOUT; 1 without).
//
// Thread mapping: invocation t (linear over the folded 2-D grid) owns key row t of keyRows = Bkv * S;
// its k and v rows and both accumulators live in registers (headDim, valueDim <= MAX_HEAD_DIM, as the
// forward). Each invocation writes only its own rows, so the sums over queries and query heads need no
// atomics. No workgroup memory.
// Heads: key/value head kv = outer * keyHeads + h is read by query heads outer * queryHeads +
// h * groupSize + g, g < groupSize. CAUSAL: key s is seen by queries l >= s only (top-left aligned).
// The mask is addressed as in attention_forward (a float mask's words by bitcast; a bool mask's false
// entries, MASK_IS_BOOL, leave the query out). A fully masked query row has lse = LOWEST and z = -inf
// (or is left out), so it adds nothing.
// Bounds: invocations past `keyRows` return at once; workgroups fold into y past 65535.

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
  keyRows: u32,
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
@group(0) @binding(8) var<storage, read_write> gradKey: array<f32>;
@group(0) @binding(9) var<storage, read_write> gradValue: array<f32>;

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
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= params.keyRows) {
    return;
  }
  let E = HEAD_DIM;
  let Ev = VALUE_DIM;
  let L = params.queryLength;
  let S = params.keyLength;
  let kv = t / S;
  let s = t - kv * S;
  let keyHeads = params.queryHeads / params.groupSize;
  let firstHead = (kv / keyHeads) * params.queryHeads + (kv % keyHeads) * params.groupSize;
  var queryStart = 0u;
  if (CAUSAL) {
    queryStart = s;
  }

  var kRow: array<f32, MAX_HEAD_DIM>;
  var gradKeyRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < E; e++) {
    kRow[e] = k[t * E + e] * params.scale;
    gradKeyRow[e] = 0.0;
  }
  var vRow: array<f32, MAX_HEAD_DIM>;
  var gradValueRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < Ev; e++) {
    vRow[e] = v[t * Ev + e];
    gradValueRow[e] = 0.0;
  }

  for (var g = 0u; g < params.groupSize; g++) {
    let b = firstHead + g;
    var maskColumn = 0u;
    if (HAS_MASK) {
      maskColumn = maskBatchOffset(b) + s * params.maskColStride;
    }
    for (var l = queryStart; l < L; l++) {
      let r = b * L + l;
      var z = 0.0;
      if (HAS_MASK) {
        let maskWord = mask[maskColumn + l * params.maskRowStride];
        if (MASK_IS_BOOL) {
          if (maskWord == 0u) {
            continue;
          }
        } else {
          z = bitcast<f32>(maskWord);
        }
      }
      for (var e = 0u; e < E; e++) {
        z += q[r * E + e] * kRow[e];
      }
      let p = exp(z - lse[r]);
      var keep = 1.0;
      if (DROPOUT) {
        keep = dropoutScale(dropoutRowKey(b, l), s);
      }
      var dp = 0.0;
      for (var e = 0u; e < Ev; e++) {
        let dO = gradOut[r * Ev + e];
        dp += dO * vRow[e];
        gradValueRow[e] += p * keep * dO;
      }
      let dz = p * (keep * dp - rowDot[r]);
      for (var e = 0u; e < E; e++) {
        gradKeyRow[e] += dz * q[r * E + e];
      }
    }
  }
  for (var e = 0u; e < E; e++) {
    gradKey[t * E + e] = gradKeyRow[e] * params.scale;
  }
  for (var e = 0u; e < Ev; e++) {
    gradValue[t * Ev + e] = gradValueRow[e];
  }
}
