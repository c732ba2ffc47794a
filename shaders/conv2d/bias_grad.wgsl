// conv2d bias gradient, first step: partial[n, o] = Σ_{q < OH·OW} dy[n, o, q]; reduce_chunks.wgsl then
// sums over n (the N images are its chunks).
// Thread mapping: one invocation per (n, o) plane, linear index (wid.x + wid.y·nwg.x)·WG + local
// index, which is also the plane's index in dy and in `partial`. Four running sums break the
// dependency chain of the adds. No workgroup memory.
// Bounds: invocations past N·O return at once; the plane loop stops at `planeSize`.

struct Params {
  planes: u32,     // N · O
  planeSize: u32,  // OH · OW
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let plane = (wid.x + wid.y * nwg.x) * WG + lid;
  if (plane >= params.planes) {
    return;
  }
  let base = plane * params.planeSize;
  var sums = vec4<f32>();
  var q = 0u;
  for (; q + 4u <= params.planeSize; q += 4u) {
    sums += vec4<f32>(dy[base + q], dy[base + q + 1u], dy[base + q + 2u], dy[base + q + 3u]);
  }
  for (; q < params.planeSize; q++) {
    sums.x += dy[base + q];
  }
  partial[plane] = sums.x + sums.y + sums.z + sums.w;
}
