// Batch norm forward: y = (x - mean[c]) / sqrt(variance[c] + eps) * weight[c] + bias[c] for x [N, C, H, W],
// c = (i / HW) % C. mean/variance are the batch statistics (training) or the running ones (eval).
// Thread mapping: one invocation per 4 consecutive elements, 256 per workgroup, workgroups folded into y
// past 65535 (index wid.x + wid.y * nwg.x). Channel boundaries may fall inside a group of 4, so the channel
// is found per element. Bounds: every element checked against count.

struct Params {
  count: u32,
  channels: u32,
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
  let base = ((wid.x + wid.y * nwg.x) * 256u + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i < params.count) {
      let c = (i / params.planeSize) % params.channels;
      let scale = inverseSqrt(variance[c] + params.eps) * weight[c];
      y[i] = (x[i] - mean[c]) * scale + bias[c];
    }
  }
}
