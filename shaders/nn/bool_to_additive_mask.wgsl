// bool_to_additive_mask: out[i] = maskedValue where mask[i] is true (word 1), 0 where false (word 0).
// nn.MultiheadAttention's bool masks mark the keys a query may *not* see (PyTorch's convention for
// that module); scaledDotProductAttention takes an additive float mask, so they become -inf / 0. The
// masked value comes in as a uniform because WGSL has no infinity literal (and const-evaluating one
// is an error).
// Thread mapping: one invocation per element, 256 per workgroup, workgroups folded into y past 65535
// (index = wid.x + wid.y * nwg.x).
// Bounds: every load and store checked against count.

struct Params {
  count: u32,
  maskedValue: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i < params.count) {
    out[i] = select(0.0, params.maskedValue, mask[i] != 0u);
  }
}
