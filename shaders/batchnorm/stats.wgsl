// Batch statistics of x [N, C, H, W]: per channel c, the mean and the biased variance (divisor n = N*H*W)
// of its n elements, as batch norm normalises with in training.
// Thread mapping: one workgroup per channel (linear workgroup index wid.x + wid.y * nwg.x, so that the
// host may fold past 65535); for each batch entry in turn its 256 invocations stride over the channel's
// plane (consecutive invocations read consecutive elements, and no index needs a division).
// Numerics: shifted sums. Every invocation accumulates s1 = sum(x - K) and s2 = sum((x - K)^2) with one
// shift K for the whole channel (its first element): with K inside the data's range, s2/n - (s1/n)^2 has
// none of the cancellation of E[x^2] - E[x]^2 when |mean| >> std, and unlike Welford it costs no division
// per element. The 256 partial sums are combined pairwise by a tree reduction in workgroup memory.
// Bounds: channels past `channels` return before any barrier (the condition is uniform across the
// workgroup); planes start below `count` (= N*C*H*W) and positions stop at planeSize; the variance is
// clamped at 0 against rounding.

struct Params {
  channels: u32,
  planeSize: u32,
  perChannel: u32,
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> variance: array<f32>;

const WG = 256u;
var<workgroup> partialShifted: array<f32, WG>;
var<workgroup> partialSquares: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= params.channels) {
    return;
  }
  let plane = params.planeSize;
  let batchStride = params.channels * plane;
  let shift = x[c * plane];
  var s1 = 0.0;
  var s2 = 0.0;
  for (var start = c * plane; start < params.count; start += batchStride) {
    for (var hw = lid; hw < plane; hw += WG) {
      let d = x[start + hw] - shift;
      s1 += d;
      s2 += d * d;
    }
  }
  partialShifted[lid] = s1;
  partialSquares[lid] = s2;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      partialShifted[lid] += partialShifted[lid + half];
      partialSquares[lid] += partialSquares[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let n = f32(params.perChannel);
    let shiftedMean = partialShifted[0] / n;
    mean[c] = shift + shiftedMean;
    variance[c] = max(partialSquares[0] / n - shiftedMean * shiftedMean, 0.0);
  }
}
