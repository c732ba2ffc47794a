// Running statistics of batch norm, updated in place as PyTorch does in training:
//   runningMean = (1 - momentum) * runningMean + momentum * mean
//   runningVar  = (1 - momentum) * runningVar  + momentum * variance * n / (n - 1)
// where `variance` is the biased batch variance and n/(n-1) (`unbias`) makes it unbiased.
// Thread mapping: one invocation per channel, 64 per workgroup. Bounds: c < channels.

struct Params {
  channels: u32,
  momentum: f32,
  unbias: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningVar: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= params.channels) {
    return;
  }
  let m = params.momentum;
  runningMean[c] = m * mean[c] + (1.0 - m) * runningMean[c];
  runningVar[c] = m * variance[c] * params.unbias + (1.0 - m) * runningVar[c];
}
