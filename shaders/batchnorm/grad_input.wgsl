// Batch norm backward, gradient of the input (x [N, C, H, W], c = (i / HW) % C, n = N*H*W per channel):
//   training (statistics from the batch, so they depend on x):
//     dx = weight[c] * invstd * (dy - sumDy[c] / n - xhat * sumDyXhat[c] / n),  xhat = (x - mean[c]) * invstd
//   eval (running statistics, constants): dx = weight[c] * invstd * dy
// with invstd = 1 / sqrt(variance[c] + eps), and sumDy, sumDyXhat from grad_sums.wgsl.
// Thread mapping: one invocation per 4 consecutive elements, 256 per workgroup, folded into y past 65535
// workgroups; the channel is found per element. Bounds: every element checked against count.

struct Params {
  count: u32,
  channels: u32,
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
  let base = ((wid.x + wid.y * nwg.x) * 256u + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i < params.count) {
      let c = (i / params.planeSize) % params.channels;
      let invstd = inverseSqrt(variance[c] + params.eps);
      var g = dy[i];
      if (TRAINING) {
        let xhat = (x[i] - mean[c]) * invstd;
        g -= (sumDy[c] + xhat * sumDyXhat[c]) / params.perChannel;
      }
      dx[i] = weight[c] * invstd * g;
    }
  }
}
