// max_backward: gradient of max over one dimension, viewed as x[outer, size, inner]: dx is grad[o, i] at
// the first index along the dimension holding the maximum (the index torch.max(x, dim) returns; a NaN
// counts as the maximum, as there) and 0 at every other index.
//
// Thread mapping: one invocation per (o, i), linear index o * inner + i, 256 per workgroup, folded into
// y past 65535 workgroups. It scans its `size` elements (stride `inner`) to find the index, then writes
// all `size` gradient elements, so dx needs no separate zero fill.
// Bounds: invocations past outCount = outer * inner return; the host rejects size = 0.

struct Params {
  outCount: u32,
  size: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// By bits: compilers may assume v != v is false.
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let task = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (task >= params.outCount) {
    return;
  }
  let inner = params.inner;
  let base = (task / inner) * params.size * inner + task % inner;
  var best = x[base];
  var at = 0u;
  for (var k = 1u; k < params.size; k++) {
    let v = x[base + k * inner];
    // Strictly greater keeps the first maximum; the first NaN wins and is never replaced.
    if ((v > best || isNan(v)) && !isNan(best)) {
      best = v;
      at = k;
    }
  }
  let g = grad[task];
  for (var k = 0u; k < params.size; k++) {
    dx[base + k * inner] = select(0.0, g, k == at);
  }
}
