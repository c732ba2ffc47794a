// Gradient through a fused ReLU: out[i] = y[i] > 0 ? grad[i] : 0, with y the fused conv's output
// (ReLU's output is positive exactly where its input was), for i < count.
// Thread mapping: one invocation per 4 consecutive elements, WG per workgroup, folded into y past
// 65535 workgroups (linear index wid.x + wid.y·nwg.x). No workgroup memory.
// Bounds: every element checked against `count`.

struct Params {
  count: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let first = ((wid.x + wid.y * nwg.x) * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = first + k;
    if (i < params.count) {
      out[i] = select(0.0, grad[i], y[i] > 0.0);
    }
  }
}
