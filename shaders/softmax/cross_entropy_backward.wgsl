// cross_entropy_backward: gradient of cross_entropy_forward's loss with respect to the logits z
// [rows, classes], fused: softmax minus the (weighted, smoothed) one-hot target, scaled. With
// p = exp(z - lse), W = sum_c w_c and the row's upstream gradient g_n / divisor[0]:
//   gx[n, k] = g_n / divisor * (p_k * a - b_k)
//   a   = (1 - eps) * w[y] + (eps / classes) * W
//   b_k = (1 - eps) * w[y] * [k == y] + (eps / classes) * w_k
// (without weights, w = 1: gx = g * (softmax - ((1 - eps) onehot(y) + eps / classes))).
// The upstream gradient is per row ('none', upstreamStride 1) or one scalar ('sum'/'mean', stride 0);
// divisor is the mean's total weight, or 1.
// A NaN lse (invalid label, see cross_entropy_forward) makes the whole row NaN.
//
// Thread mapping: one invocation per row, 64 per workgroup, folded into y past 65535 workgroups
// (linear index wid.x + wid.y * nwg.x); rows are a batch of a few class scores each.
// Bounds: invocations past `rows` return at once; the weight read for an invalid label is
// redirected to class 0.

struct Params {
  rows: u32,
  classes: u32,
  smoothing: f32,
  upstreamStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> upstream: array<f32>;
@group(0) @binding(6) var<storage, read> divisor: array<f32>;
@group(0) @binding(7) var<storage, read_write> gx: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * nwg.x) * WG + lid;
  if (n >= params.rows) {
    return;
  }
  let label = labels[n];
  let y = select(0u, u32(label), label >= 0 && u32(label) < params.classes);
  let uniformShare = params.smoothing / f32(params.classes);
  var totalWeight = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    totalWeight += weight[c];
  }
  let labelShare = (1.0 - params.smoothing) * weight[y];
  let a = labelShare + uniformShare * totalWeight;
  let scale = upstream[n * params.upstreamStride] / divisor[0];
  let rowLse = lse[n];
  let base = n * params.classes;
  for (var k = 0u; k < params.classes; k++) {
    let p = exp(logits[base + k] - rowLse);
    let b = select(0.0, labelShare, k == y) + uniformShare * weight[k];
    gx[base + k] = scale * (p * a - b);
  }
}
