// attention_backward_key_tiled: the key and value gradients of scaled dot-product attention
// (FlashAttention-2's dK / dV pass), for GPUs without subgroups of 8 lanes
// (attention_backward_key_shared.wgsl runs where they exist; CPU adapters without them run
// attention_backward_key.wgsl, where workgroup memory and barriers cost more than they save). For key row
// t = kv * S + s of key/value head kv, summed over the query heads b that read kv (groupSize of them under
// grouped-query attention) and over their query rows r = b * L + l, with the probabilities recomputed from
// the forward's logsumexp:
//   z = scale * dot(q[r], k[t]) + mask[b, l, s]     P = exp(z - lse[r])
//   dP = keep dot(gradOut[r], v[t])                  dZ = P (dP - rowDot[r])
//   gradValue[t] = sum P keep gradOut[r]             gradKey[t] = scale * sum dZ q[r]
// rowDot[r] = dot(gradOut[r], out[r]) comes from attention_backward_rowdot. keep: the forward's dropout
// factor for (b, l, s), 0 or keepScale, regenerated from dropoutSeed by the same hash (DROPOUT; 1 without).
//
// Thread mapping and tiling: workgroup w (linear over the folded 2-D grid) owns key/value head
// kv = w / blocks and key rows s0 .. s0 + WG - 1, s0 = (w mod blocks) * WG, blocks = ceil(S / WG); lane
// lid owns s0 + lid, its k and v rows and both accumulators in registers. All its lanes walk the same
// query rows, so each tile of QUERY_TILE q and gradOut rows (with their lse and rowDot) is loaded once
// into workgroup memory by the whole workgroup, between barriers. Each lane writes only its own rows,
// so the sums over queries and query heads need no atomics.
// Heads: kv = outer * keyHeads + h is read by query heads outer * queryHeads + h * groupSize + g.
// Uniformity: the query loop is uniform over the workgroup (from 0, or with CAUSAL from s0, the block's
// first key: key s is seen by queries l >= s, top-left aligned) and each lane gives P = 0 where the query
// is not its own to count: l < s under CAUSAL, a bool mask's false entries. The mask is addressed as in
// attention_forward_tiled (a float mask's words by bitcast). A fully masked query row has lse = LOWEST
// and z = -inf (or is left out), so it adds nothing.
// Bounds: workgroups past Bkv * blocks return at once (uniformly); lanes past S clamp their row for
// every load, take part in every barrier, and store nothing; tile rows past L are loaded clamped to
// L - 1 and never used.

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

// Key rows per workgroup: one block of adjacent rows of one key/value head.
const WG = 64u;
/** The largest headDim and valueDim a row's registers (and a tile's rows) hold. */
const MAX_HEAD_DIM = 128u;
/** Query rows per workgroup tile: the q and gradOut tiles take 2 * QUERY_TILE * MAX_HEAD_DIM * 4 = 8 KiB,
 *  their lse and rowDot entries 2 * QUERY_TILE * 4 bytes more. */
const QUERY_TILE = 8u;

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

var<workgroup> qTile: array<f32, QUERY_TILE * MAX_HEAD_DIM>;
var<workgroup> gradOutTile: array<f32, QUERY_TILE * MAX_HEAD_DIM>;
var<workgroup> lseTile: array<f32, QUERY_TILE>;
var<workgroup> rowDotTile: array<f32, QUERY_TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let E = HEAD_DIM;
  let Ev = VALUE_DIM;
  let L = params.queryLength;
  let S = params.keyLength;
  let blocks = (S + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  if (S == 0u || w >= (params.keyRows / S) * blocks) {
    return;
  }
  let kv = w / blocks;
  let s0 = (w - kv * blocks) * WG;
  let s = s0 + lid;
  let inside = s < S;
  // Rows past S read row S - 1 and store nothing.
  let sRead = min(s, S - 1u);
  let t = kv * S + sRead;
  let keyHeads = params.queryHeads / params.groupSize;
  let firstHead = (kv / keyHeads) * params.queryHeads + (kv % keyHeads) * params.groupSize;
  var queryStart = 0u;
  if (CAUSAL) {
    queryStart = s0;
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
      maskColumn = maskBatchOffset(b) + sRead * params.maskColStride;
    }
    for (var tileStart = queryStart; tileStart < L; tileStart += QUERY_TILE) {
      let tileLength = min(QUERY_TILE, L - tileStart);
      for (var i = lid; i < QUERY_TILE * E; i += WG) {
        let j = i / E;
        qTile[i] = q[(b * L + min(tileStart + j, L - 1u)) * E + (i - j * E)];
      }
      for (var i = lid; i < QUERY_TILE * Ev; i += WG) {
        let j = i / Ev;
        gradOutTile[i] = gradOut[(b * L + min(tileStart + j, L - 1u)) * Ev + (i - j * Ev)];
      }
      if (lid < QUERY_TILE) {
        let r = b * L + min(tileStart + lid, L - 1u);
        lseTile[lid] = lse[r];
        rowDotTile[lid] = rowDot[r];
      }
      workgroupBarrier();
      for (var j = 0u; j < tileLength; j++) {
        let l = tileStart + j;
        var kept = true;
        if (CAUSAL) {
          kept = l >= sRead;
        }
        var z = 0.0;
        if (HAS_MASK) {
          let maskWord = mask[maskColumn + l * params.maskRowStride];
          if (MASK_IS_BOOL) {
            kept = kept && maskWord != 0u;
          } else {
            z = bitcast<f32>(maskWord);
          }
        }
        for (var e = 0u; e < E; e++) {
          z += qTile[j * E + e] * kRow[e];
        }
        let p = select(0.0, exp(z - lseTile[j]), kept);
        var keep = 1.0;
        if (DROPOUT) {
          keep = dropoutScale(dropoutRowKey(b, l), sRead);
        }
        var dp = 0.0;
        for (var e = 0u; e < Ev; e++) {
          let dO = gradOutTile[j * Ev + e];
          dp += dO * vRow[e];
          gradValueRow[e] += p * keep * dO;
        }
        let dz = p * (keep * dp - rowDotTile[j]);
        for (var e = 0u; e < E; e++) {
          gradKeyRow[e] += dz * qTile[j * E + e];
        }
      }
      workgroupBarrier();
    }
  }

  if (!inside) {
    return;
  }
  for (var e = 0u; e < E; e++) {
    gradKey[t * E + e] = gradKeyRow[e] * params.scale;
  }
  for (var e = 0u; e < Ev; e++) {
    gradValue[t * Ev + e] = gradValueRow[e];
  }
}
