// Batch norm forward: y = (x - mean[c]) / sqrt(variance[c] + eps) * weight[c] + bias[c] for x [N, C, H, W].
// mean/variance are the batch statistics (training) or the running ones (eval).
// Thread mapping: workgroup (x, c, n) covers 1024 consecutive positions of plane (n, c): invocation lid
// does positions x*1024 + k*256 + lid, k = 0..3, so consecutive invocations touch consecutive elements
// and the channel comes from the workgroup id (its scale is computed once, no index needs a division).
// Bounds: positions checked against planeSize; the host dispatches exactly C x N planes.

struct Params {
  planeSize: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let plane = (wid.z * nwg.y + c) * params.planeSize;
  let scale = inverseSqrt(variance[c] + params.eps) * weight[c];
  let m = mean[c];
  let b = bias[c];
  for (var k = 0u; k < 4u; k++) {
    let hw = wid.x * 1024u + k * 256u + lid;
    if (hw < params.planeSize) {
      y[plane + hw] = (x[plane + hw] - m) * scale + b;
    }
  }
}
