// Batch norm backward, gradient of the input (x [N, C, H, W], n = N*H*W elements per channel):
//   training (statistics from the batch, so they depend on x):
//     dx = weight[c] * invstd * (dy - sumDy[c] / n - xhat * sumDyXhat[c] / n),  xhat = (x - mean[c]) * invstd
//   eval (running statistics, constants): dx = weight[c] * invstd * dy
// with invstd = 1 / sqrt(variance[c] + eps), and sumDy, sumDyXhat from grad_sums.wgsl.
// Thread mapping: workgroup (x, c, n) covers 1024 consecutive positions of plane (n, c): invocation lid
// does positions x*1024 + k*256 + lid, k = 0..3, so consecutive invocations touch consecutive elements
// and the per-channel factors are computed once per invocation (no index needs a division).
// Bounds: positions checked against planeSize; the host dispatches exactly C x N planes.

struct Params {
  planeSize: u32,
  perChannel: f32,
  eps: f32,
}

override TRAINING: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> sumDy: array<f32>;
@group(0) @binding(7) var<storage, read> sumDyXhat: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let plane = (wid.z * nwg.y + c) * params.planeSize;
  let invstd = inverseSqrt(variance[c] + params.eps);
  let scale = weight[c] * invstd;
  let m = mean[c];
  let meanDy = sumDy[c] / params.perChannel;
  let meanDyXhat = sumDyXhat[c] / params.perChannel;
  for (var k = 0u; k < 4u; k++) {
    let hw = wid.x * 1024u + k * 256u + lid;
    if (hw < params.planeSize) {
      var g = dy[plane + hw];
      if (TRAINING) {
        g -= meanDy + (x[plane + hw] - m) * invstd * meanDyXhat;
      }
      dx[plane + hw] = scale * g;
    }
  }
}
