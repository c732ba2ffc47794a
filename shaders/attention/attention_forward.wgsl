// attention_forward: fused scaled dot-product attention, one query row per invocation. For query row
// r = b * L + l (b: the flattened batch of query heads, l: the query position) and its key/value head
// kv(b), with scores  z_s = scale * dot(q[r], k[kv, s]) + mask[b, l, s]  over the keys s allowed to it,
//   out[r] = sum_s softmax(z)_s v[kv, s]      lse[r] = log(sum_s exp(z_s))   (saved for the backward).
// The L x S score matrix is never stored: the keys are walked in tiles of KEY_TILE with an online
// softmax, a running max m and a running sum of exp(z - m); the accumulator of sum exp(z - m) v is
// rescaled by exp(m_old - m_new) once per tile, when the tile's max raises m.
//
// Thread mapping: invocation r (linear over the folded 2-D grid) owns query row r of `rows` = B * L;
// its q row and its output accumulator live in registers, so headDim and valueDim are at most
// MAX_HEAD_DIM (the host refuses more). No workgroup memory, no barrier.
// Heads: query head b = outer * queryHeads + h reads key/value head outer * keyHeads + h / groupSize
// (grouped-query attention; groupSize = 1 for plain multi-head attention).
// Masking: CAUSAL keeps keys s <= l (top-left aligned, as PyTorch's tril when L != S); HAS_MASK adds a
// float mask read through broadcast strides: the batch index b decomposed over maskBatchShape (at most
// four merged dimensions, outermost first) with maskBatchStride, then l * maskRowStride + s * maskColStride.
// A row whose every score is -inf (fully masked) has sum 0: it writes zeros and lse = LOWEST, so that
// the backward's exp(z - lse) is exp(-inf) = 0 there too (PyTorch gives NaN; our policy is zeros).
// The running max starts at the lowest finite f32, not -inf, so that exp(z - m) is never exp(-inf + inf).
// Bounds: invocations past `rows` return at once; workgroups fold into y past 65535
// (linear index wid.x + wid.y * nwg.x).

override HAS_MASK: bool = false;
override CAUSAL: bool = false;

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
  maskBatchShape: vec4<u32>,
  maskBatchStride: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

const WG = 64u;
/** The largest headDim and valueDim a row's registers hold. */
const MAX_HEAD_DIM = 128u;
/** Keys scored before the accumulator is rescaled. */
const KEY_TILE = 16u;
const LOWEST: f32 = bitcast<f32>(0xff7fffffu);

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= params.rows) {
    return;
  }
  let E = params.headDim;
  let Ev = params.valueDim;
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
  var runningMax = LOWEST;
  var runningSum = 0.0;
  var scores: array<f32, KEY_TILE>;

  for (var tileStart = 0u; tileStart < keyEnd; tileStart += KEY_TILE) {
    let tileLength = min(KEY_TILE, keyEnd - tileStart);
    var tileMax = runningMax;
    for (var j = 0u; j < tileLength; j++) {
      let s = tileStart + j;
      var z = 0.0;
      for (var e = 0u; e < E; e++) {
        z += qRow[e] * k[(kv * S + s) * E + e];
      }
      if (HAS_MASK) {
        z += mask[maskRow + s * params.maskColStride];
      }
      scores[j] = z;
      tileMax = max(tileMax, z);
    }
    let rescale = exp(runningMax - tileMax);
    runningMax = tileMax;
    runningSum *= rescale;
    for (var e = 0u; e < Ev; e++) {
      acc[e] *= rescale;
    }
    for (var j = 0u; j < tileLength; j++) {
      let p = exp(scores[j] - runningMax);
      runningSum += p;
      let vRow = (kv * S + tileStart + j) * Ev;
      for (var e = 0u; e < Ev; e++) {
        acc[e] += p * v[vRow + e];
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
