// cross_entropy_forward: per-row loss of torch.nn.functional.cross_entropy with class weights w and
// label smoothing eps (PyTorch 1.13), for logits z [rows, classes] and integer labels y [rows]:
//   lse = logsumexp(z[n, :]) (max-subtracted),  -logp_c = lse - z_c
//   loss[n] = (1 - eps) * w[y] * (lse - z_y) + (eps / classes) * sum_c w_c * (lse - z_c)
// and lse[n], which the backward reuses for the softmax. The smoothing term sums w_c (lse - z_c)
// directly rather than lse * sum(w) - sum(w z), which would cancel.
// A label outside [0, classes) makes loss[n] and lse[n] NaN: labels uploaded from the host are
// checked there before dispatch; labels already on the GPU are checked here, since a readback would
// stall the step. The NaN then reaches the reduced loss and every gradient of the row.
//
// Thread mapping: one invocation per row, 64 per workgroup, folded into y past 65535 workgroups
// (linear index wid.x + wid.y * nwg.x). A row is a handful of class scores and the rows are a batch:
// no cooperation inside a row is worth its barriers.
// Bounds: invocations past `rows` return at once (no barrier follows); the weight read for an
// invalid label is redirected to class 0.

struct Params {
  rows: u32,
  classes: u32,
  smoothing: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * nwg.x) * WG + lid;
  if (n >= params.rows) {
    return;
  }
  let base = n * params.classes;
  var m = logits[base];
  for (var c = 1u; c < params.classes; c++) {
    m = max(m, logits[base + c]);
  }
  var s = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    s += exp(logits[base + c] - m);
  }
  let logSumExp = m + log(s);

  var uniformTerm = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    uniformTerm += weight[c] * (logSumExp - logits[base + c]);
  }
  let label = labels[n];
  let valid = label >= 0 && u32(label) < params.classes;
  let y = select(0u, u32(label), valid);
  let nll = weight[y] * (logSumExp - logits[base + y]);
  let rowLoss = (1.0 - params.smoothing) * nll + params.smoothing / f32(params.classes) * uniformTerm;
  // NaN made from the data, not a literal: WGSL rejects constant expressions that evaluate to NaN.
  let nan = bitcast<f32>(0x7fc00000u | (bitcast<u32>(label) & 0u));
  loss[n] = select(nan, rowLoss, valid);
  lse[n] = select(nan, logSumExp, valid);
}
