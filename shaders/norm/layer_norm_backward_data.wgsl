// layer_norm_backward_data: the input gradient of layer_norm_forward, per row of `size` elements, from
// the upstream gradient g and the forward's saved per-row mean and rstd. With xhat = (x - mean) * rstd
// and gw = g * weight (g without AFFINE):
//   gx = rstd * (gw - sum(gw) / size - xhat * sum(gw * xhat) / size).
//
// Thread mapping: as layer_norm_forward: 256 / THREADS_PER_ROW rows per workgroup of 256, the
// THREADS_PER_ROW lanes of a row (a power of two) striding over its elements; one lane per row for
// short rows, with no workgroup memory traffic and no barrier.
// Reduction: each lane sums both terms over its elements in one pass, then a tree in workgroup memory
// adds the lanes' (sum(gw), sum(gw * xhat)) pairs (log2(THREADS_PER_ROW) + 1 barriers).
// Bounds: invocations of rows past `rows` take part in every barrier but neither read nor write.
// Workgroups fold into y past 65535 (linear index wid.x + wid.y * nwg.x).

override THREADS_PER_ROW: u32 = 1u;
override AFFINE: bool = false;

struct Params {
  rows: u32,
  size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> gx: array<f32>;

const WG = 256u;
var<workgroup> partial: array<vec2f, WG>;

fn weighted(g: f32, c: u32) -> f32 {
  if (AFFINE) {
    return g * weight[c];
  }
  return g;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * (WG / THREADS_PER_ROW) + lid / THREADS_PER_ROW;
  let lane = lid % THREADS_PER_ROW;
  let inRange = row < params.rows;
  let base = row * params.size;

  var rowMean = 0.0;
  var rowRstd = 0.0;
  // (sum(gw), sum(gw * xhat)) over this lane's elements, then over the row.
  var sums = vec2f(0.0);
  if (inRange) {
    rowMean = mean[row];
    rowRstd = rstd[row];
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let gw = weighted(g[base + c], c);
      sums += vec2f(gw, gw * (x[base + c] - rowMean) * rowRstd);
    }
  }

  if (THREADS_PER_ROW > 1u) {
    partial[lid] = sums;
    workgroupBarrier();
    for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
      if (lane < stride) {
        partial[lid] += partial[lid + stride];
      }
      workgroupBarrier();
    }
    sums = partial[lid - lane];
  }

  if (inRange) {
    let meanGw = sums.x / f32(params.size);
    let meanGwXhat = sums.y / f32(params.size);
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let xhat = (x[base + c] - rowMean) * rowRstd;
      gx[base + c] = rowRstd * (weighted(g[base + c], c) - meanGw - xhat * meanGwXhat);
    }
  }
}
