// attention_forward_tiled: fused scaled dot-product attention, for GPUs without subgroups of 8 lanes
// (attention_forward_shared.wgsl runs where they exist; CPU adapters without them run
// attention_forward.wgsl, where workgroup memory and barriers cost more than they save). For query row r =
// b * L + l (b: the flattened batch of query heads, l: the query position) and its key/value head kv(b),
// with scores z_s = scale * dot(q[r], k[kv, s]) + mask[b, l, s]  over the keys s allowed to it,
//   out[r] = sum_s softmax(z)_s keep_s v[kv, s]   lse[r] = log(sum_s exp(z_s))   (saved for the backward),
// keep_s = 1 without dropout; with DROPOUT it is 0 or 1 / (1 - p) (PyTorch's dropout of the
// probabilities, after the softmax: the logsumexp is of the undropped scores).
// The L x S score matrix is never stored: the keys are walked in tiles of KEY_TILE with an online
// softmax, a running max m and a running sum of exp(z - m); the accumulator of sum exp(z - m) v is
// rescaled by exp(m_old - m_new) once per tile.
//
// Thread mapping and tiling: workgroup w (linear over the folded 2-D grid) owns query head b = w / blocks
// and query positions l0 .. l0 + WG - 1, l0 = (w mod blocks) * WG, blocks = ceil(L / WG); lane lid owns
// l0 + lid, its q row and output accumulator in registers (headDim, valueDim <= MAX_HEAD_DIM, the host
// refuses more). All its lanes read one key/value head, so each tile of KEY_TILE k and v rows is loaded
// once into workgroup memory by the whole workgroup (element i by lane i mod WG), a barrier, then read
// by every lane, and a barrier again before the next tile overwrites it.
// Uniformity: barriers need every lane, so no lane leaves the key loop on its own. The loop runs to a
// bound uniform over the workgroup (S; with CAUSAL the largest key count of the block, min(S, l0 + WG))
// and each lane leaves out what is not its own: keys past its causal end (s <= l kept: top-left
// aligned, as PyTorch's tril when L != S) and a bool mask's false keys (weight 0, no effect on the max
// or the sum). Rows of the last tile past S are loaded clamped to S - 1 and never scored.
// Heads: query head b = outer * queryHeads + h reads key/value head outer * keyHeads + h / groupSize
// (grouped-query attention; groupSize = 1 for plain multi-head attention).
// Masking: HAS_MASK reads a mask through broadcast strides: the batch index b decomposed over
// maskBatchShape (at most four merged dimensions, outermost first) with maskBatchStride, then
// l * maskRowStride + s * maskColStride. The binding is u32 words: a float mask (added to z) is read by
// bitcast, a bool mask (MASK_IS_BOOL, 0 / 1 words, 1 = the key takes part) leaves out its false keys.
// A row whose every score is -inf or left out (fully masked) has sum 0: it writes zeros and lse = LOWEST,
// so that the backward's probabilities are 0 there too (PyTorch gives NaN; our policy is zeros).
// Dropout: keep_s is a function of (dropoutSeed, b, l, s) by a counter-based hash (PCG's output
// permutation chained over the four numbers, each index hashed before it is mixed in), so the backward
// kernels regenerate it and it is never stored: the score is kept when the top DROPOUT_BITS bits of the
// hash are at least dropoutThreshold (round(p * 2^DROPOUT_BITS)), and scaled by keepScale (1 / (1 - p)).
// The running max starts at the lowest finite f32, not -inf, so that exp(z - m) is never exp(-inf + inf).
// Bounds: workgroups past B * blocks return at once (uniformly); lanes past L clamp their row for every
// load, take part in every barrier, and store nothing.

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

// Query rows per workgroup: one block of adjacent rows of one query head.
const WG = 64u;
/** The largest headDim and valueDim a row's registers (and a tile's rows) hold. */
const MAX_HEAD_DIM = 128u;
/** Keys per workgroup tile, scored before the accumulator is rescaled (at most 32: a u32 holds which
 *  of them take part); the k and v tiles take 2 * KEY_TILE * MAX_HEAD_DIM * 4 = 8 KiB of workgroup memory. */
const KEY_TILE = 8u;
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
  for (var e = 0u; e < E; e++) {
    qRow[e] = q[r * E + e] * params.scale;
  }
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var e = 0u; e < Ev; e++) {
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
    for (var i = lid; i < KEY_TILE * E; i += WG) {
      let j = i / E;
      kTile[i] = k[(kv * S + min(tileStart + j, S - 1u)) * E + (i - j * E)];
    }
    for (var i = lid; i < KEY_TILE * Ev; i += WG) {
      let j = i / Ev;
      vTile[i] = v[(kv * S + min(tileStart + j, S - 1u)) * Ev + (i - j * Ev)];
    }
    workgroupBarrier();
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
      for (var e = 0u; e < E; e++) {
        z += qRow[e] * kTile[j * E + e];
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
    for (var e = 0u; e < Ev; e++) {
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
      for (var e = 0u; e < Ev; e++) {
        acc[e] += weight * vTile[j * Ev + e];
      }
    }
    workgroupBarrier();
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
