// attention_backward_rowdot: the first pass of the attention backward (FlashAttention-2's D):
//   rowDot[r] = sum_e gradOut[r, e] * out[r, e]   for every query row r of the [rows, valueDim] output.
// It is the softmax backward's sum_s P_s dP_s, computed from the output instead of the L x S matrix:
// sum_s P_s dot(dO, v_s) = dot(dO, sum_s P_s v_s) = dot(dO, O).
//
// Thread mapping: one invocation per row, reading its valueDim elements in order. No workgroup memory.
// Bounds: invocations past `rows` return at once; workgroups fold into y past 65535
// (linear index wid.x + wid.y * nwg.x).

struct Params {
  rows: u32,
  valueDim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowDot: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= params.rows) {
    return;
  }
  var total = 0.0;
  for (var e = 0u; e < params.valueDim; e++) {
    total += gradOut[r * params.valueDim + e] * out[r * params.valueDim + e];
  }
  rowDot[r] = total;
}
