// Batch norm backward, per-channel sums: with xhat = (x - mean[c]) / sqrt(variance[c] + eps),
//   gradBias[c]   = sum(dy)          over the N*H*W elements of channel c
//   gradWeight[c] = sum(dy * xhat)
// which are the gradients of bias and weight, and the two sums the input gradient needs in training.
// Thread mapping: one workgroup per channel (linear workgroup index wid.x + wid.y * nwg.x); for each batch
// entry in turn its 256 invocations stride over the channel's plane (consecutive invocations read
// consecutive elements, no index needs a division), then a tree reduction in workgroup memory combines
// the 256 partial sums pairwise. (x - mean) is summed and scaled by 1/sqrt(var + eps)
// once at the end.
// Bounds: channels past `channels` return before any barrier (uniform condition); planes start below
// `count` (= N*C*H*W) and positions stop at planeSize.

struct Params {
  channels: u32,
  planeSize: u32,
  count: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradBias: array<f32>;

const WG = 256u;
var<workgroup> partialDy: array<f32, WG>;
var<workgroup> partialDyCentered: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= params.channels) {
    return;
  }
  let plane = params.planeSize;
  let batchStride = params.channels * plane;
  let m = mean[c];
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  for (var start = c * plane; start < params.count; start += batchStride) {
    for (var hw = lid; hw < plane; hw += WG) {
      let g = dy[start + hw];
      sumDy += g;
      sumDyCentered += g * (x[start + hw] - m);
    }
  }
  partialDy[lid] = sumDy;
  partialDyCentered[lid] = sumDyCentered;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      partialDy[lid] += partialDy[lid + half];
      partialDyCentered[lid] += partialDyCentered[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    gradBias[c] = partialDy[0];
    gradWeight[c] = partialDyCentered[0] * inverseSqrt(variance[c] + params.eps);
  }
}
