// Batch statistics of x [N, C, H, W] for batch norm in training, with everything else that is per channel
// done in the same dispatch by the workgroup's first invocation once the sums are in:
//   table[c] = (mean, invstd * weight, bias, invstd), invstd = 1 / sqrt(variance + eps): the coefficients
//              of channel_affine.wgsl's normalisation, and the statistics saved for the backward;
//   UPDATE_RUNNING: runningMean = (1 - momentum) * runningMean + momentum * mean,
//                   runningVar = (1 - momentum) * runningVar + momentum * variance * n / (n - 1)  (`unbias`);
//   COUNT_BATCH: batchCount[k] += 1 for each of the channels / channelsPerCount counters (BatchNorm2d's int32
//                num_batches_tracked: one counter for all channels, or one per block of channelsPerCount
//                channels where the channels of several batch norms are stacked), by the first invocation
//                of the block's first channel.
// mean and the biased variance are over the n = N*H*W elements of channel c.
// Thread mapping: LANES invocations per channel (a power of two the host picks from N*H*W), WG / LANES
// channels per workgroup (linear index wid.x + wid.y * nwg.x, folded past 65535): many small channels
// share a workgroup rather than leaving most of one idle and paying its barriers alone. A channel's
// LANES invocations stride over its elements in (batch, position) order, element j = lane + k*LANES: the
// (batch, position) pair is found by division once and stepped by (LANES / planeSize, LANES % planeSize),
// so small planes keep every invocation busy and no index needs a division in the loop.
// Numerics: shifted sums. Every invocation accumulates s1 = sum(x - K) and s2 = sum((x - K)^2) with one
// shift K for the whole channel (its first element): with K inside the data's range, s2/n - (s1/n)^2 has
// none of the cancellation of E[x^2] - E[x]^2 when |mean| >> std, and unlike Welford it costs no division
// per element. The LANES partial sums are combined pairwise by a tree reduction in workgroup memory,
// within each channel's block of LANES slots.
// Bounds: invocations of channels past `channels` (in the last workgroup) read nothing and write only their
// own workgroup-memory slots, but stay for the barriers; the loop stops at batch index N; the variance is
// clamped at 0 against rounding. Without UPDATE_RUNNING / COUNT_BATCH their buffers are placeholders and
// are not touched.

override UPDATE_RUNNING: bool;
override COUNT_BATCH: bool;
override LANES: u32;

struct Params {
  channels: u32,
  planeSize: u32,
  batch: u32,
  eps: f32,
  momentum: f32,
  unbias: f32,
  channelsPerCount: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> table: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(6) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(7) var<storage, read_write> batchCount: array<i32>;

const WG = 64u;
var<workgroup> partialShifted: array<f32, WG>;
var<workgroup> partialSquares: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % LANES;
  let c = (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
  let planeSize = params.planeSize;
  let batchStride = params.channels * planeSize;
  let base = c * planeSize;
  // Past the last channel: no elements (batch index 0 is already the end).
  var batch = 0u;
  var shift = 0.0;
  if (c < params.channels) {
    batch = params.batch;
    shift = x[base];
  }
  let stepN = LANES / planeSize;
  let stepHw = LANES % planeSize;
  var n = lane / planeSize;
  var hw = lane % planeSize;
  var s1 = 0.0;
  var s2 = 0.0;
  // `for`, not `while`: wgsl_reflect's interpreter (the race test) leaves a `while` after one iteration.
  for (; n < batch;) {
    let d = x[n * batchStride + base + hw] - shift;
    s1 += d;
    s2 += d * d;
    n += stepN;
    hw += stepHw;
    if (hw >= planeSize) {
      hw -= planeSize;
      n++;
    }
  }
  partialShifted[lid] = s1;
  partialSquares[lid] = s2;
  workgroupBarrier();
  for (var half = LANES / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partialShifted[lid] += partialShifted[lid + half];
      partialSquares[lid] += partialSquares[lid + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u && c < params.channels) {
    let count = f32(params.batch * planeSize);
    let shiftedMean = partialShifted[lid] / count;
    let mean = shift + shiftedMean;
    let variance = max(partialSquares[lid] / count - shiftedMean * shiftedMean, 0.0);
    let invstd = inverseSqrt(variance + params.eps);
    table[c] = vec4f(mean, invstd * weight[c], bias[c], invstd);
    if (UPDATE_RUNNING) {
      let m = params.momentum;
      runningMean[c] = m * mean + (1.0 - m) * runningMean[c];
      runningVar[c] = m * variance * params.unbias + (1.0 - m) * runningVar[c];
    }
    if (COUNT_BATCH && c % params.channelsPerCount == 0u) {
      batchCount[c / params.channelsPerCount] += 1;
    }
  }
}
