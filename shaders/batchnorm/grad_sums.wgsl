// Batch norm backward, per-channel sums over the n = N*H*W elements of channel c, with xhat = (x - mean) * invstd
// and (mean, _, _, invstd) = saved[c], the table of the forward (stats.wgsl or table.wgsl):
//   gradBias[c]   = sum(dy)
//   gradWeight[c] = sum(dy * xhat)
// the gradients of bias and weight. TRAINING (the forward used batch statistics): the workgroup's first
// invocation also writes the coefficients of channel_affine.wgsl's MODE_GRADIENT for the input gradient,
//   gradTable[c] = (sum(dy) / n, s, mean, -s * invstd * sum(dy * xhat) / n),  s = saved[c].y = weight * invstd;
// otherwise gradTable is a placeholder and is not touched.
// Thread mapping: one workgroup per channel (linear index wid.x + wid.y * nwg.x, folded past 65535).
// Its WG invocations stride over the channel's elements in (batch, position) order, element j = lid + k*WG:
// the (batch, position) pair is found by division once and stepped by (WG / planeSize, WG % planeSize),
// so small planes keep every invocation busy and no index needs a division in the loop. (x - mean) is
// summed and scaled by invstd once at the end. The WG partial sums are combined pairwise by a tree
// reduction in workgroup memory.
// Bounds: channels past `channels` return before any barrier (uniform condition); the loop stops at
// batch index N.

override TRAINING: bool;

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

const WG = 64u;
var<workgroup> partialDy: array<f32, WG>;
var<workgroup> partialDyCentered: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= params.channels) {
    return;
  }
  let planeSize = params.planeSize;
  let batchStride = params.channels * planeSize;
  let base = c * planeSize;
  let t = saved[c];
  let stepN = WG / planeSize;
  let stepHw = WG % planeSize;
  var n = lid / planeSize;
  var hw = lid % planeSize;
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  // `for`, not `while`: wgsl_reflect's interpreter (the race test) leaves a `while` after one iteration.
  for (; n < params.batch;) {
    let i = n * batchStride + base + hw;
    let g = dy[i];
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
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      partialDy[lid] += partialDy[lid + half];
      partialDyCentered[lid] += partialDyCentered[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let dyXhat = partialDyCentered[0] * t.w;
    gradBias[c] = partialDy[0];
    gradWeight[c] = dyXhat;
    if (TRAINING) {
      let count = f32(params.batch * planeSize);
      gradTable[c] = vec4f(partialDy[0] / count, t.y, t.x, -t.y * t.w * dyXhat / count);
    }
  }
}
