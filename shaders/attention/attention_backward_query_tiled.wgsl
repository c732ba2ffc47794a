// attention_backward_query_tiled: the query gradient of scaled dot-product attention (FlashAttention-2's
// dQ pass), and the score gradient when the float mask needs one, for GPUs without subgroups of 8 lanes
// (attention_backward_query_shared.wgsl runs where they exist; CPU adapters without them run
// attention_backward_query.wgsl, where workgroup memory and barriers cost more than they save). For query
// row r = b * L + l, with the probabilities recomputed from the forward's logsumexp instead of stored,
//   z_s = scale * dot(q[r], k[kv, s]) + mask[b, l, s]      P_s = exp(z_s - lse[r])
//   dP_s = keep_s dot(gradOut[r], v[kv, s])                  dZ_s = P_s (dP_s - rowDot[r])
//   gradQuery[r] = scale * sum_s dZ_s k[kv, s]               gradMask[r, s] = dZ_s   (WRITE_MASK_GRAD)
// rowDot[r] = dot(gradOut[r], out[r]) comes from attention_backward_rowdot (it is sum_s P_s dP_s with
// dropout too, since out sums P_s keep_s v_s). gradMask is the full [rows, keyLength] score gradient;
// the host sums it over the mask's broadcast dimensions. keep_s: the forward's dropout factor, 0 or
// keepScale, regenerated from (dropoutSeed, b, l, s) by the same hash (DROPOUT; 1 without).
//
// Thread mapping and tiling: as attention_forward_tiled.wgsl: workgroup w owns query head b = w / blocks
// and rows l0 .. l0 + WG - 1 (blocks = ceil(L / WG)), lane lid owns l0 + lid with its q row, gradOut row
// and gradQuery accumulator in registers; the k and v rows of each tile of KEY_TILE keys are loaded once
// into workgroup memory by the whole workgroup, between barriers. Each lane writes only its own rows,
// so no atomics.
// Uniformity: the key loop runs to a bound uniform over the workgroup (S; with CAUSAL the largest key
// count of the block) and each lane gives P = 0 to what is not its own: keys past its causal end and a
// bool mask's false keys (there dZ = 0, and gradMask, written only for a float mask, is 0 as well).
// Heads, causal and mask addressing: as attention_forward_tiled. A fully masked row has lse = LOWEST and
// z = -inf (or left out), so P = 0 and its gradients are zero.
// Bounds: workgroups past B * blocks return at once (uniformly); lanes past L clamp their row for every
// load, take part in every barrier, and store nothing.

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

// Query rows per workgroup: one block of adjacent rows of one query head.
const WG = 64u;
/** The largest headDim and valueDim a row's registers (and a tile's rows) hold. */
const MAX_HEAD_DIM = 128u;
/** Keys per workgroup tile: the k and v tiles take 2 * KEY_TILE * MAX_HEAD_DIM * 4 = 8 KiB. */
const KEY_TILE = 8u;

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

var<workgroup> kTile: array<f32, KEY_TILE * MAX_HEAD_DIM>;
var<workgroup> vTile: array<f32, KEY_TILE * MAX_HEAD_DIM>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let L = params.queryLength;
  let S = params.keyLength;
  let E = HEAD_DIM;
  let Ev = VALUE_DIM;
  let blocks = (L + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  if (L == 0u || w >= (params.rows / L) * blocks) {
    return;
  }
  let b = w / blocks;
  let l0 = (w - b * blocks) * WG;
  let l = l0 + lid;
  let inside = l < L;
  // Rows past L read row L - 1 and store nothing.
  let lRead = min(l, L - 1u);
  let r = b * L + lRead;
  let keyHeads = params.queryHeads / params.groupSize;
  let kv = (b / params.queryHeads) * keyHeads + (b % params.queryHeads) / params.groupSize;
  var keyEnd = S;
  var loopEnd = S;
  if (CAUSAL) {
    keyEnd = min(S, lRead + 1u);
    loopEnd = min(S, min(l0 + WG, L));
  }
  var maskRow = 0u;
  if (HAS_MASK) {
    maskRow = maskBatchOffset(b) + lRead * params.maskRowStride;
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
    rowKey = dropoutRowKey(b, lRead);
  }

  for (var tileStart = 0u; tileStart < loopEnd; tileStart += KEY_TILE) {
    let tileLength = min(KEY_TILE, loopEnd - tileStart);
    for (var i = lid; i < KEY_TILE * E; i += WG) {
      let j = i / E;
      kTile[i] = k[(kv * S + min(tileStart + j, S - 1u)) * E + (i - j * E)];
    }
    for (var i = lid; i < KEY_TILE * Ev; i += WG) {
      let j = i / Ev;
      vTile[i] = v[(kv * S + min(tileStart + j, S - 1u)) * Ev + (i - j * Ev)];
    }
    workgroupBarrier();
    for (var j = 0u; j < tileLength; j++) {
      let s = tileStart + j;
      var kept = s < keyEnd;
      var z = 0.0;
      if (HAS_MASK) {
        let maskWord = mask[maskRow + s * params.maskColStride];
        if (MASK_IS_BOOL) {
          kept = kept && maskWord != 0u;
        } else {
          z = bitcast<f32>(maskWord);
        }
      }
      for (var e = 0u; e < E; e++) {
        z += qRow[e] * kTile[j * E + e];
      }
      let p = select(0.0, exp(z - rowLse), kept);
      var dp = 0.0;
      for (var e = 0u; e < Ev; e++) {
        dp += gradOutRow[e] * vTile[j * Ev + e];
      }
      if (DROPOUT) {
        dp *= dropoutScale(rowKey, s);
      }
      let dz = p * (dp - rowD);
      for (var e = 0u; e < E; e++) {
        gradQueryRow[e] += dz * kTile[j * E + e];
      }
      if (WRITE_MASK_GRAD && inside) {
        gradMask[r * S + s] = dz;
      }
    }
    workgroupBarrier();
  }

  if (!inside) {
    return;
  }
  for (var e = 0u; e < E; e++) {
    gradQuery[r * E + e] = gradQueryRow[e] * params.scale;
  }
}
