// gat_backward_targets: the first pass of the graph attention backward (see gat_forward), over
// targets: for every (target node i, head k) and each edge e = j -> i, with g = grad of out,
//   alpha_e  = exp(LeakyReLU(z_e) - logSumExp[i, k]),  z_e = srcScore[j, k] + dstScore[i, k]
//   dAlpha_e = keep_e * <g[i, k, :], h[j, k, :]>
//   dZ_e     = alpha_e * (dAlpha_e - sum over i's edges of alpha * dAlpha) * LeakyReLU'(z_e)
// (the dropout's mask, the softmax backward, then the slope: 1 above 0, negativeSlope at or below, as
// PyTorch; keep_e is gat_forward's, recomputed from the same seed), and
//   edgeGrad[e * heads + k] = (alpha_e * keep_e, dZ_e)   per edge, in target order, for gat_backward_sources
//   dstScoreGrad[i, k]      = sum over i's edges of dZ_e
// Writing per edge here and gathering by source in the second pass is what keeps the backward free of
// float atomics: every output has exactly one writer.
//
// Graph: `targetCsr` as in gat_forward (entries 0..nodes are the offsets of each target's edges, entry
// nodes + 1 + e the source of edge e).
// Thread mapping: one invocation per (i, k), linear index i * heads + k, walking its edges twice (the
// softmax sum needs every dAlpha before any dZ; recomputing the dot products is cheaper than a
// per-edge buffer). No workgroup memory.
// Bounds: invocations past nodes * heads return at once. Workgroups fold into y past 65535 (linear
// index wid.x + wid.y * nwg.x).

struct Params {
  nodes: u32,
  heads: u32,
  channels: u32,
  negativeSlope: f32,
  dropoutSeed: u32,
  dropoutThreshold: u32,
  keepScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> targetCsr: array<i32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read> srcScore: array<f32>;
@group(0) @binding(4) var<storage, read> dstScore: array<f32>;
@group(0) @binding(5) var<storage, read> logSumExp: array<f32>;
@group(0) @binding(6) var<storage, read> grad: array<f32>;
@group(0) @binding(7) var<storage, read_write> edgeGrad: array<vec2f>;
@group(0) @binding(8) var<storage, read_write> dstScoreGrad: array<f32>;

const WG = 64u;
const DROPOUT_BITS = 24u;
override DROPOUT: bool = false;

// <pcg-hash> (identical in every hashed-dropout shader; a test checks it)
/** PCG's state step and output permutation (Jarzynski & Olano 2020): a well-mixed bijection of u32. */
fn pcgHash(bits: u32) -> u32 {
  let state = bits * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
// </pcg-hash>

/** gat_forward's keep_e of coefficient `element` = e * heads + k: 1 without dropout, else 0 or keepScale. */
fn keep(element: u32) -> f32 {
  if (!DROPOUT) {
    return 1.0;
  }
  let drawn = pcgHash(pcgHash(params.dropoutSeed) ^ pcgHash(element)) >> (32u - DROPOUT_BITS);
  return select(0.0, params.keepScale, drawn >= params.dropoutThreshold);
}

fn dotGradSource(gradBase: u32, source: u32) -> f32 {
  let sourceBase = source * params.channels;
  var total = 0.0;
  for (var c = 0u; c < params.channels; c++) {
    total += grad[gradBase + c] * h[sourceBase + c];
  }
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WG + lid;
  if (index >= params.nodes * params.heads) {
    return;
  }
  let node = index / params.heads;
  let head = index - node * params.heads;
  let first = u32(targetCsr[node]);
  let last = u32(targetCsr[node + 1u]);
  let sources = params.nodes + 1u;
  let dst = dstScore[index];
  let lse = logSumExp[index];
  let gradBase = index * params.channels;

  var weighted = 0.0;
  for (var e = first; e < last; e++) {
    let source = u32(targetCsr[sources + e]) * params.heads + head;
    let z = srcScore[source] + dst;
    let alpha = exp(select(params.negativeSlope * z, z, z > 0.0) - lse);
    weighted += alpha * keep(e * params.heads + head) * dotGradSource(gradBase, source);
  }

  var dstTotal = 0.0;
  for (var e = first; e < last; e++) {
    let source = u32(targetCsr[sources + e]) * params.heads + head;
    let z = srcScore[source] + dst;
    let alpha = exp(select(params.negativeSlope * z, z, z > 0.0) - lse);
    let kept = keep(e * params.heads + head);
    let dZ = alpha * (kept * dotGradSource(gradBase, source) - weighted) * select(params.negativeSlope, 1.0, z > 0.0);
    edgeGrad[e * params.heads + head] = vec2f(alpha * kept, dZ);
    dstTotal += dZ;
  }
  dstScoreGrad[index] = dstTotal;
}
