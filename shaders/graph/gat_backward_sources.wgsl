// gat_backward_sources: the second pass of the graph attention backward, over sources: for every
// (source node j, head k), gathering over the edges e = j -> i that start at j what
// gat_backward_targets wrote per edge, edgeGrad[e * heads + k] = (alpha_e, dZ_e):
//   hGrad[j, k, :]     = sum over j's edges of alpha_e * grad[i, k, :]   (h as the aggregated value)
//   srcScoreGrad[j, k] = sum over j's edges of dZ_e
// (h's gradient through the scores comes from the recorded ops that made srcScore / dstScore).
//
// Graph: `sourceCsr` is the edge list sorted by source, in CSR form: sourceCsr[j] .. sourceCsr[j + 1]
// (entries 0..nodes) bound the edges starting at j, and edge number s in that order has two entries
// after the offsets: sourceCsr[nodes + 1 + 2s] = its position e in target order (where edgeGrad holds
// it) and sourceCsr[nodes + 2 + 2s] = its target i.
// Thread mapping: one invocation per (j, k), linear index j * heads + k; it owns hGrad[j, k, :] and
// srcScoreGrad[j, k] alone, so no workgroup memory, barrier or atomic is needed.
// Bounds: invocations past nodes * heads return at once. Workgroups fold into y past 65535 (linear
// index wid.x + wid.y * nwg.x).

struct Params {
  nodes: u32,
  heads: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sourceCsr: array<i32>;
@group(0) @binding(2) var<storage, read> edgeGrad: array<vec2f>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> hGrad: array<f32>;
@group(0) @binding(5) var<storage, read_write> srcScoreGrad: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WG + lid;
  if (index >= params.nodes * params.heads) {
    return;
  }
  let node = index / params.heads;
  let head = index - node * params.heads;
  let first = u32(sourceCsr[node]);
  let last = u32(sourceCsr[node + 1u]);
  let edges = params.nodes + 1u;
  let hBase = index * params.channels;

  for (var c = 0u; c < params.channels; c++) {
    hGrad[hBase + c] = 0.0;
  }
  var srcTotal = 0.0;
  for (var s = first; s < last; s++) {
    let position = u32(sourceCsr[edges + 2u * s]);
    let targetNode = u32(sourceCsr[edges + 2u * s + 1u]);
    let edge = edgeGrad[position * params.heads + head];
    srcTotal += edge.y;
    let gradBase = (targetNode * params.heads + head) * params.channels;
    for (var c = 0u; c < params.channels; c++) {
      hGrad[hBase + c] += edge.x * grad[gradBase + c];
    }
  }
  srcScoreGrad[index] = srcTotal;
}
