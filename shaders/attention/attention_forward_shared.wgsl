// attention_forward_shared: the fused forward of attention_forward.wgsl (same math, same uniforms, same
// outputs: online softmax over key tiles, logsumexp, float / bool masks read by broadcast strides, causal,
// grouped-query heads, the dropout hash, fully masked rows -> zeros and lse = LOWEST), for adapters whose
// subgroups have at least SHARED lanes (the host runs it only there: sharedLoadsRun()).
// Why: on lavapipe every load is issued lane by lane, even one whose address all lanes share, and a
// workgroup tile costs a barrier per tile; here instead the lanes of a workgroup own adjacent query
// rows of one query head, so they all read the same key/value head; each element of a k or v row is
// loaded by one lane of SHARED (lane mod SHARED loads element e0 + lane mod SHARED of a chunk of SHARED)
// and handed to every lane by subgroupBroadcast (shared8, as matmul/registers.wgsl does with rows of A):
// a key row is fetched once per SHARED query rows instead of once per row.
//
// Thread mapping: workgroup w (linear over the folded 2-D grid) owns query head b = w / blocks and query
// positions l0 .. l0 + WG - 1, l0 = (w mod blocks) * WG, blocks = ceil(L / WG); lane lid owns l0 + lid.
// Uniformity: subgroupBroadcast needs every lane of the subgroup, so no lane leaves a loop or skips a
// broadcast on its own. The key loop runs to a bound uniform over the workgroup (S; with CAUSAL the
// largest key count of the block, min(S, l0 + WG)) and each lane masks what is not its own: keys past its
// causal end and a bool mask's false keys are not kept (weight 0, no effect on the max or the sum).
// Chunks of SHARED run past E and Ev to the next multiple of SHARED: the loads clamp their element index
// to E - 1 (Ev - 1), the q row is zero there, and accumulator entries past Ev are never stored.
// Bounds: workgroups past B * blocks return at once (uniformly); lanes past L clamp their row for every
// load, take part in every broadcast, and store nothing.

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

// Query rows per workgroup: one block of adjacent rows of one query head (a multiple of every subgroup
// size, so that each subgroup's lanes 0..SHARED-1 exist).
const WG = 64u;
// Lanes that share one load (the width of shared8).
const SHARED = 8u;
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
  // This lane's keys, and the bound of the key loop, uniform over the workgroup.
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
  let part = lane % SHARED;
  let chunksE = (E + SHARED - 1u) / SHARED;
  let chunksEv = (Ev + SHARED - 1u) / SHARED;

  var qRow: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < chunksE * SHARED; e++) {
    qRow[e] = select(0.0, q[r * E + min(e, E - 1u)] * params.scale, e < E);
  }
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < chunksEv * SHARED; e++) {
    acc[e] = 0.0;
  }
  var rowKey = 0u;
  if (DROPOUT) {
    rowKey = dropoutRowKey(b, lRead);
  }
  var runningMax = LOWEST;
  var runningSum = 0.0;
  var scores: array<f32, KEY_TILE>;

  for (var tileStart = 0u; tileStart < loopEnd; tileStart += KEY_TILE) {
    let tileLength = min(KEY_TILE, loopEnd - tileStart);
    var tileMax = runningMax;
    // Bit j: key tileStart + j takes part for this lane (within its causal end, not a bool mask's false).
    var tileKept = 0u;
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
      let kRow = (kv * S + s) * E;
      for (var c = 0u; c < chunksE; c++) {
        let e0 = c * SHARED;
        let kChunk = shared8(k[kRow + min(e0 + part, E - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          z += qRow[e0 + i] * kChunk[i];
        }
      }
      scores[j] = z;
      if (kept) {
        tileKept |= 1u << j;
        tileMax = max(tileMax, z);
      }
    }
    let rescale = exp(runningMax - tileMax);
    runningMax = tileMax;
    runningSum *= rescale;
    for (var e = 0u; e < chunksEv * SHARED; e++) {
      acc[e] *= rescale;
    }
    for (var j = 0u; j < tileLength; j++) {
      let kept = (tileKept & (1u << j)) != 0u;
      let p = select(0.0, exp(scores[j] - runningMax), kept);
      runningSum += p;
      var weight = p;
      if (DROPOUT) {
        weight *= dropoutScale(rowKey, tileStart + j);
      }
      let vRow = (kv * S + tileStart + j) * Ev;
      for (var c = 0u; c < chunksEv; c++) {
        let e0 = c * SHARED;
        let vChunk = shared8(v[vRow + min(e0 + part, Ev - 1u)]);
        for (var i = 0u; i < SHARED; i++) {
          acc[e0 + i] += weight * vChunk[i];
        }
      }
    }
  }

  if (!inside) {
    return;
  }
  // Fully masked (or no keys): zeros, and an lse under which every recomputed probability is 0.
  let inverseSum = select(0.0, 1.0 / runningSum, runningSum > 0.0);
  for (var e = 0u; e < Ev; e++) {
    out[r * Ev + e] = acc[e] * inverseSum;
  }
  lse[r] = select(LOWEST, runningMax + log(runningSum), runningSum > 0.0);
}
