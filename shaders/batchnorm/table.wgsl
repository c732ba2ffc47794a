// Batch norm with constant statistics (eval): the per-channel coefficients of channel_affine.wgsl,
//   table[c] = (mean, invstd * weight, bias, invstd),  invstd = 1 / sqrt(variance + eps),
// from the running statistics, in the layout stats.wgsl writes in training. Being a copy, the table also
// keeps the statistics the forward used for its backward, whatever a later training step does to them.
// Thread mapping: one invocation per channel, 64 per workgroup. Bounds: c < channels.

struct Params {
  channels: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> table: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= params.channels) {
    return;
  }
  let invstd = inverseSqrt(variance[c] + params.eps);
  table[c] = vec4f(mean[c], invstd * weight[c], bias[c], invstd);
}
