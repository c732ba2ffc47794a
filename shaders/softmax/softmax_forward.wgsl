// softmax_forward: softmax or log-softmax along one dimension of a contiguous tensor, viewed as
// [outer, size, inner]. A row is the `size` elements x[o, :, i] (stride `inner`), rows numbered
// r = o * inner + i. With m = max(row) and s = sum(exp(row - m)), both max-subtracted so that no exp
// overflows:  softmax: out = exp(x - m) / s;  log-softmax (LOG): out = x - m - log(s).
//
// Thread mapping: a workgroup of 256 invocations takes 256 / THREADS_PER_ROW consecutive rows; the
// THREADS_PER_ROW lanes of a row (a power of two the host picks from the row length) take elements
// lane, lane + THREADS_PER_ROW, ... With THREADS_PER_ROW = 1 (short rows such as class scores) each
// invocation owns a row and no workgroup memory or barrier is used at all.
// Reduction: a lane finds the max of its own elements, then the sum of exp(x - own max) (one exp per
// element, the second pass reads what the first just loaded). The lanes' (max, sum) pairs are then
// merged by a tree in workgroup memory: m = max(m1, m2), s = s1 exp(m1 - m) + s2 exp(m2 - m), which
// needs log2(THREADS_PER_ROW) + 1 barriers instead of two separate reductions' worth.
// Bounds: invocations of rows past `rows` take part in every barrier but neither read nor write. A lane
// with no element holds (lowest finite f32, 0), which merges as an empty set (a true -inf would give
// exp(-inf - -inf) = NaN). A row of all -inf gives NaN, as in PyTorch.
// Workgroups fold into y past 65535 (linear index wid.x + wid.y * nwg.x).

override THREADS_PER_ROW: u32 = 1u;
override LOG: bool = false;

struct Params {
  rows: u32,
  size: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG = 256u;
var<workgroup> partial: array<vec2f, WG>;

const LOWEST: f32 = bitcast<f32>(0xff7fffffu);

fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * (WG / THREADS_PER_ROW) + lid / THREADS_PER_ROW;
  let lane = lid % THREADS_PER_ROW;
  let inRange = row < params.rows;
  let o = row / params.inner;
  let base = o * params.size * params.inner + (row - o * params.inner);

  var m = LOWEST;
  var s = 0.0;
  if (inRange) {
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      m = max(m, x[base + c * params.inner]);
    }
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      s += exp(x[base + c * params.inner] - m);
    }
  }

  if (THREADS_PER_ROW > 1u) {
    partial[lid] = vec2f(m, s);
    workgroupBarrier();
    for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
      if (lane < stride) {
        partial[lid] = merge(partial[lid], partial[lid + stride]);
      }
      workgroupBarrier();
    }
    let total = partial[lid - lane];
    m = total.x;
    s = total.y;
  }

  if (inRange) {
    let logSum = log(s);
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let i = base + c * params.inner;
      let shifted = x[i] - m;
      if (LOG) {
        out[i] = shifted - logSum;
      } else {
        out[i] = exp(shifted) / s;
      }
    }
  }
}
