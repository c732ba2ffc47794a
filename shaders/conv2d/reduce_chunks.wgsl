// Sums split-reduction partials: out[i] = Σ_{s < chunks} partial[s·size + i] for i < size (the last
// step of conv2d's weight and bias gradients).
// Thread mapping: one invocation per 4 consecutive outputs, WG per workgroup, folded into y past
// 65535 workgroups (linear index wid.x + wid.y·nwg.x). No workgroup memory.
// Bounds: outputs at or past `size` are neither read nor written.

struct Params {
  size: u32,
  chunks: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let first = ((wid.x + wid.y * nwg.x) * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = first + k;
    if (i < params.size) {
      var sum = 0.0;
      for (var s = 0u; s < params.chunks; s++) {
        sum += partial[s * params.size + i];
      }
      out[i] = sum;
    }
  }
}
