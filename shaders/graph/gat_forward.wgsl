// gat_forward: the attention aggregation of a graph attention layer (PyG's GATConv), for every
// (target node i, head k), over the edges j -> i that end at i:
//   score_e = LeakyReLU(srcScore[j, k] + dstScore[i, k])           (slope `negativeSlope` below 0)
//   alpha_e = exp(score_e - logSumExp[i, k]),  logSumExp[i, k] = log(sum over i's edges of exp(score_e))
//   out[i, k, :] = sum over i's edges of alpha_e * keep_e * h[j, k, :]
// keep_e = 1 without DROPOUT; with it 0 or keepScale = 1 / (1 - p), PyG's dropout of the coefficients
// (after the softmax; logSumExp stays that of the undropped scores). keep_e is the mask the dropout
// kernel (shaders/elementwise/dropout.wgsl) would draw for the [edges, heads] coefficient tensor in
// target order: element e * heads + k kept when the top DROPOUT_BITS bits of
// pcgHash(pcgHash(dropoutSeed) ^ pcgHash(e * heads + k)) are at least dropoutThreshold
// (round(p * 2^DROPOUT_BITS)). Nothing is stored; the backward recomputes it from the seed.
// srcScore / dstScore are the per-node halves <h, a_src> and <h, a_dst>, made before this kernel. The
// softmax is max-subtracted (no overflow). logSumExp is saved for the backward, which recomputes alpha
// from it instead of storing one value per edge and head. A node without incoming edges (possible
// only without self-loops) gets out = 0 and logSumExp = 0, as PyG's empty sum.
//
// Graph: `targetCsr` is the edge list sorted by target, in CSR form: targetCsr[i] .. targetCsr[i + 1]
// (entries 0..nodes) bound the edges ending at i, and targetCsr[nodes + 1 + e] is the source of edge e
// in that order. Duplicate edges are separate entries, as in PyG.
// Thread mapping: one invocation per (i, k), linear index i * heads + k; it walks its edges twice
// (max and sum, then the weighted sum) and owns out[i, k, :] alone, so no workgroup memory, barrier
// or atomic is needed.
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
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> logSumExp: array<f32>;

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

/** keep_e of coefficient `element` = e * heads + k: 1 without dropout, else 0 or keepScale. */
fn keep(element: u32) -> f32 {
  if (!DROPOUT) {
    return 1.0;
  }
  let drawn = pcgHash(pcgHash(params.dropoutSeed) ^ pcgHash(element)) >> (32u - DROPOUT_BITS);
  return select(0.0, params.keepScale, drawn >= params.dropoutThreshold);
}

fn leakyRelu(z: f32) -> f32 {
  return select(params.negativeSlope * z, z, z > 0.0);
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
  let outBase = index * params.channels;

  for (var c = 0u; c < params.channels; c++) {
    out[outBase + c] = 0.0;
  }
  if (first == last) {
    logSumExp[index] = 0.0;
    return;
  }

  var m = leakyRelu(srcScore[u32(targetCsr[sources + first]) * params.heads + head] + dst);
  for (var e = first + 1u; e < last; e++) {
    m = max(m, leakyRelu(srcScore[u32(targetCsr[sources + e]) * params.heads + head] + dst));
  }
  var s = 0.0;
  for (var e = first; e < last; e++) {
    s += exp(leakyRelu(srcScore[u32(targetCsr[sources + e]) * params.heads + head] + dst) - m);
  }
  let lse = m + log(s);
  logSumExp[index] = lse;

  for (var e = first; e < last; e++) {
    let source = u32(targetCsr[sources + e]) * params.heads + head;
    let alpha = exp(leakyRelu(srcScore[source] + dst) - lse) * keep(e * params.heads + head);
    let sourceBase = source * params.channels;
    for (var c = 0u; c < params.channels; c++) {
      out[outBase + c] += alpha * h[sourceBase + c];
    }
  }
}
