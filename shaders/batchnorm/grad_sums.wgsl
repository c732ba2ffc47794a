// Batch norm backward, per-channel sums over the n = N*H*W elements of channel c, with xhat = (x - mean) * invstd
// and (mean, _, _, invstd) = saved[c], the table of the forward (stats.wgsl or table.wgsl):
//   gradBias[c]   = sum(dy)
//   gradWeight[c] = sum(dy * xhat)
// the gradients of bias and weight. TRAINING (the forward used batch statistics): each channel's first
// invocation also writes the coefficients of channel_affine.wgsl's MODE_GRADIENT for the input gradient,
//   gradTable[c] = (sum(dy) / n, s, mean, -s * invstd * sum(dy * xhat) / n),  s = saved[c].y = weight * invstd;
// otherwise gradTable is a placeholder and is not touched.
// MASK (a ReLU followed the batch norm in the forward): dy is the gradient of the ReLU's output, and
// g = select(0, dy, y > 0) with y the forward output (the ReLU's mask, NaN masked as in relu backward)
// stands for it throughout; STORE_MASKED also writes g to maskedDy (the gradient of a fused residual),
// element by element as it is read, so that no separate masking pass runs. Without STORE_MASKED
// maskedDy is a placeholder; without MASK, y is bound to dy and not read.
// Thread mapping: LANES invocations per channel (a power of two the host picks from N*H*W), WG / LANES
// channels per workgroup (linear index wid.x + wid.y * nwg.x, folded past 65535): many small channels
// share a workgroup rather than leaving most of one idle and paying its barriers alone. A channel's
// LANES invocations stride over its elements in (batch, position) order, element j = lane + k*LANES: the
// (batch, position) pair is found by division once and stepped by (LANES / planeSize, LANES % planeSize),
// so small planes keep every invocation busy and no index needs a division in the loop. (x - mean) is
// summed and scaled by invstd once at the end. The LANES partial sums are combined pairwise by a tree
// reduction in workgroup memory, within each channel's block of LANES slots.
// Bounds: invocations of channels past `channels` (in the last workgroup) read nothing and write only their
// own workgroup-memory slots, but stay for the barriers; the loop stops at batch index N.

override TRAINING: bool;
override LANES: u32;
override MASK: bool = false;
override STORE_MASKED: bool = false;

struct Params {
  channels: u32,
  planeSize: u32,
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(5) var<storage, read_write> gradBias: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradTable: array<vec4f>;
@group(0) @binding(7) var<storage, read> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> maskedDy: array<f32>;

const WG = 64u;
var<workgroup> partialDy: array<f32, WG>;
var<workgroup> partialDyCentered: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % LANES;
  let c = (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
  let planeSize = params.planeSize;
  let batchStride = params.channels * planeSize;
  let base = c * planeSize;
  // Past the last channel: no elements (batch index 0 is already the end).
  var batch = 0u;
  var t = vec4f();
  if (c < params.channels) {
    batch = params.batch;
    t = saved[c];
  }
  let stepN = LANES / planeSize;
  let stepHw = LANES % planeSize;
  var n = lane / planeSize;
  var hw = lane % planeSize;
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  // `for`, not `while`: wgsl_reflect's interpreter (the race test) leaves a `while` after one iteration.
  for (; n < batch;) {
    let i = n * batchStride + base + hw;
    var g = dy[i];
    if (MASK) {
      g = select(0.0, g, y[i] > 0.0);
      if (STORE_MASKED) {
        maskedDy[i] = g;
      }
    }
    sumDy += g;
    sumDyCentered += g * (x[i] - t.x);
    n += stepN;
    hw += stepHw;
    if (hw >= planeSize) {
      hw -= planeSize;
      n++;
    }
  }
  partialDy[lid] = sumDy;
  partialDyCentered[lid] = sumDyCentered;
  workgroupBarrier();
  for (var half = LANES / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partialDy[lid] += partialDy[lid + half];
      partialDyCentered[lid] += partialDyCentered[lid + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u && c < params.channels) {
    let dyXhat = partialDyCentered[lid] * t.w;
    gradBias[c] = partialDy[lid];
    gradWeight[c] = dyXhat;
    if (TRAINING) {
      let count = f32(params.batch * planeSize);
      gradTable[c] = vec4f(partialDy[lid] / count, t.y, t.x, -t.y * t.w * dyXhat / count);
    }
  }
}
