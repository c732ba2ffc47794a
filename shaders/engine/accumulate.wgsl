// accumulate: out[i] = a[i] + b[i] for i < count (gradient accumulation in the autograd tape).
// Thread mapping: one invocation per 4 consecutive elements; 256 per workgroup, folded into y past
// 65535 workgroups. Bounds: every access checked against count.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG = 256u;
const ELEMENTS_PER_INVOCATION = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = ((wid.x + wid.y * nwg.x) * WG + lid) * ELEMENTS_PER_INVOCATION;
  for (var k = 0u; k < ELEMENTS_PER_INVOCATION; k++) {
    let i = base + k;
    if (i < params.count) {
      out[i] = a[i] + b[i];
    }
  }
}
