// layer_norm_backward_weight: the gradients of layer_norm_forward's weight and bias, summed over the
// rows (no float atomics): for each position c of a row of `size` elements,
//   gweight[c] = sum over rows r of g[r, c] * xhat[r, c],   gbias[c] = sum over rows r of g[r, c],
// with xhat = (x - mean[r]) * rstd[r] from the forward's saved per-row statistics.
//
// Thread mapping: a workgroup of 256 invocations takes COLUMNS consecutive positions c and splits the
// rows among ROW_LANES lanes per position: lane k sums rows k, k + ROW_LANES, ... (at one step the
// COLUMNS invocations of a lane read COLUMNS neighbouring addresses of one row). Workgroup w takes
// positions w * COLUMNS ..; folded into y past 65535 (linear index wid.x + wid.y * nwg.x).
// Reduction: the ROW_LANES partial (gweight, gbias) pairs of a position are added by a tree in
// workgroup memory (log2(ROW_LANES) + 1 barriers).
// Bounds: invocations of positions past `size` take part in every barrier but neither read nor write.

struct Params {
  rows: u32,
  size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> gweight: array<f32>;
@group(0) @binding(6) var<storage, read_write> gbias: array<f32>;

const COLUMNS = 32u;
const ROW_LANES = 8u;
const WG = 256u; // COLUMNS * ROW_LANES
var<workgroup> partial: array<vec2f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let column = lid % COLUMNS;
  let lane = lid / COLUMNS;
  let c = (wid.x + wid.y * nwg.x) * COLUMNS + column;
  let inRange = c < params.size;

  // (gweight, gbias) over this lane's rows.
  var sums = vec2f(0.0);
  if (inRange) {
    for (var r = lane; r < params.rows; r += ROW_LANES) {
      let i = r * params.size + c;
      sums += vec2f(g[i] * (x[i] - mean[r]) * rstd[r], g[i]);
    }
  }

  partial[lid] = sums;
  workgroupBarrier();
  for (var stride = ROW_LANES / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride * COLUMNS];
    }
    workgroupBarrier();
  }

  if (inRange && lane == 0u) {
    gweight[c] = partial[column].x;
    gbias[c] = partial[column].y;
  }
}
