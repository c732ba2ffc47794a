// softmax_backward: gradient of softmax or log-softmax along one dimension, from the forward's output
// y and the upstream gradient g, rows laid out as in softmax_forward ([outer, size, inner], a row is
// y[o, :, i] with stride `inner`, rows numbered r = o * inner + i):
//   softmax:            gx = y * (g - sum(g * y))
//   log-softmax (LOG):  gx = g - exp(y) * sum(g)
//
// Thread mapping: as softmax_forward: 256 / THREADS_PER_ROW rows per workgroup of 256, the
// THREADS_PER_ROW lanes of a row (a power of two) striding over its elements; with one lane per row
// there is no workgroup memory traffic and no barrier.
// Reduction: each lane sums its elements' terms, then a tree in workgroup memory adds the lanes'
// partial sums (log2(THREADS_PER_ROW) + 1 barriers).
// Bounds: invocations of rows past `rows` take part in every barrier but neither read nor write.
// Workgroups fold into y past 65535 (linear index wid.x + wid.y * nwg.x).

override THREADS_PER_ROW: u32 = 1u;
override LOG: bool = false;

struct Params {
  rows: u32,
  size: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

const WG = 256u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * (WG / THREADS_PER_ROW) + lid / THREADS_PER_ROW;
  let lane = lid % THREADS_PER_ROW;
  let inRange = row < params.rows;
  let o = row / params.inner;
  let base = o * params.size * params.inner + (row - o * params.inner);

  var total = 0.0;
  if (inRange) {
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let i = base + c * params.inner;
      if (LOG) {
        total += g[i];
      } else {
        total += g[i] * y[i];
      }
    }
  }

  if (THREADS_PER_ROW > 1u) {
    partial[lid] = total;
    workgroupBarrier();
    for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
      if (lane < stride) {
        partial[lid] += partial[lid + stride];
      }
      workgroupBarrier();
    }
    total = partial[lid - lane];
  }

  if (inRange) {
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let i = base + c * params.inner;
      if (LOG) {
        gx[i] = g[i] - exp(y[i]) * total;
      } else {
        gx[i] = y[i] * (g[i] - total);
      }
    }
  }
}
