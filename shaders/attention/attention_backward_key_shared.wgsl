// attention_backward_key_shared: attention_backward_key.wgsl's dK / dV pass (same math, uniforms,
// bindings and outputs), for adapters whose subgroups have at least SHARED lanes (the host runs it only
// there: sharedLoadsRun()). For key row t = kv * S + s, summed over the query heads b that read kv and
// their rows r = b * L + l, with P recomputed from the forward's logsumexp:
//   z = scale * dot(q[r], k[t]) + mask[b, l, s]     P = exp(z - lse[r])
//   dP = keep dot(gradOut[r], v[t])                  dZ = P (dP - rowDot[r])
//   gradValue[t] = sum P keep gradOut[r]             gradKey[t] = scale * sum dZ q[r]
// Why: without sharing every lane would load the same q and gradOut rows, which lavapipe issues lane by
// lane. Here the lanes of a workgroup own adjacent key rows of one key/value head, so they walk the same
// query rows: each element of a q or gradOut row is loaded by one lane of SHARED and handed to all by
// subgroupBroadcast (shared8, as attention_forward_shared.wgsl), for the dot products and again for
// the two updates that follow them.
//
// Thread mapping: workgroup w (linear over the folded 2-D grid) owns key/value head kv = w / blocks and
// key rows s0 .. s0 + WG - 1, s0 = (w mod blocks) * WG, blocks = ceil(S / WG); lane lid owns s0 + lid.
// Heads: kv = outer * keyHeads + h is read by query heads outer * queryHeads + h * groupSize + g.
// Uniformity: every lane runs every broadcast. The query loop is uniform over the workgroup (from 0,
// or with CAUSAL from s0, the block's first key: key s is seen by queries l >= s) and each lane gives
// P = 0 where the query is not its own to count: l < s under CAUSAL, a bool mask's false entries.
// Chunks of SHARED run past E and Ev to the next multiple of SHARED: loads clamp their element index
// to E - 1 (Ev - 1) and the key / value rows are zero there, so the extra products vanish; nothing past
// E (Ev) is stored.
// Bounds: workgroups past Bkv * blocks return at once (uniformly); lanes past S clamp their row for
// every load, take part in every broadcast, and store nothing.

enable subgroups;

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

// Key rows per workgroup: one block of adjacent rows of one key/value head (a multiple of every
// subgroup size, so that each subgroup's lanes 0..SHARED-1 exist).
const WG = 64u;
// Lanes that share one load (the width of shared8).
const SHARED = 8u;
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


// <shared8> (identical in conv2d/*_rows.wgsl and matmul/registers.wgsl; a test checks it)
// The values of lanes 0..7 of the subgroup, in every lane.
fn shared8(v: f32) -> array<f32, SHARED> {
  return array<f32, SHARED>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                            subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
// </shared8>

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
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
  let part = lane % SHARED;
  let chunksE = (E + SHARED - 1u) / SHARED;
  let chunksEv = (Ev + SHARED - 1u) / SHARED;

  var kRow: array<f32, MAX_HEAD_DIM>;
  var gradKeyRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < chunksE * SHARED; e++) {
    kRow[e] = select(0.0, k[t * E + min(e, E - 1u)] * params.scale, e < E);
    gradKeyRow[e] = 0.0;
  }
  var vRow: array<f32, MAX_HEAD_DIM>;
  var gradValueRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < chunksEv * SHARED; e++) {
    vRow[e] = select(0.0, v[t * Ev + min(e, Ev - 1u)], e < Ev);
    gradValueRow[e] = 0.0;
  }

  for (var g = 0u; g < params.groupSize; g++) {
    let b = firstHead + g;
    var maskColumn = 0u;
    if (HAS_MASK) {
      maskColumn = maskBatchOffset(b) + sRead * params.maskColStride;
    }
    for (var l = queryStart; l < L; l++) {
      let r = b * L + l;
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
      for (var c = 0u; c < chunksE; c++) {
        let e0 = c * SHARED;
        let qChunk = shared8(q[r * E + min(e0 + part, E - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          z += qChunk[i] * kRow[e0 + i];
        }
      }
      var dp = 0.0;
      for (var c = 0u; c < chunksEv; c++) {
        let e0 = c * SHARED;
        let dOChunk = shared8(gradOut[r * Ev + min(e0 + part, Ev - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          dp += dOChunk[i] * vRow[e0 + i];
        }
      }
      let p = select(0.0, exp(z - lse[r]), kept);
      var keep = 1.0;
      if (DROPOUT) {
        keep = dropoutScale(dropoutRowKey(b, l), sRead);
      }
      // The q and gradOut chunks are loaded and broadcast again for the updates: cheaper here than
      // keeping copies of the rows in private arrays.
      let pk = p * keep;
      for (var c = 0u; c < chunksEv; c++) {
        let e0 = c * SHARED;
        let dOChunk = shared8(gradOut[r * Ev + min(e0 + part, Ev - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          gradValueRow[e0 + i] += pk * dOChunk[i];
        }
      }
      let dz = p * (keep * dp - rowDot[r]);
      for (var c = 0u; c < chunksE; c++) {
        let e0 = c * SHARED;
        let qChunk = shared8(q[r * E + min(e0 + part, E - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          gradKeyRow[e0 + i] += dz * qChunk[i];
        }
      }
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
