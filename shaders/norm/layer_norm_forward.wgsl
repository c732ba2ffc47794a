// layer_norm_forward: layer normalisation of each contiguous row of `size` elements (the trailing
// normalizedShape dims flattened), as torch.nn.functional.layer_norm:
//   mean = sum(x) / size,  var = sum((x - mean)^2) / size (biased),  rstd = 1 / sqrt(var + eps),
//   out = (x - mean) * rstd * weight + bias    (weight / bias per position in the row, when AFFINE / BIAS).
// mean and rstd of every row are written too, for the backward.
//
// Thread mapping: a workgroup of 256 invocations takes 256 / THREADS_PER_ROW consecutive rows; the
// THREADS_PER_ROW lanes of a row (a power of two the host picks from the row length) take elements
// lane, lane + THREADS_PER_ROW, ... With THREADS_PER_ROW = 1 (short rows) each invocation owns a row.
// Reduction: two passes over the row, the mean first and then the squared deviations from it (not
// E[x^2] - mean^2, which cancels catastrophically when |mean| >> std). Both sum x - shift, shift being
// the row's first element: when |mean| >> std a float32 sum of x itself rounds at the scale of the
// mean (a row of 1000 + 0.01 u loses 2% of its normalised values), while the differences are exact. Each pass sums a lane's own
// elements, then a tree in workgroup memory adds the lanes' partial sums (log2(THREADS_PER_ROW) + 1
// barriers, and one more before the buffer is reused).
// Bounds: invocations of rows past `rows` take part in every barrier but neither read nor write; the
// host sends size >= 1. Workgroups fold into y past 65535 (linear index wid.x + wid.y * nwg.x).

override THREADS_PER_ROW: u32 = 1u;
override AFFINE: bool = false;
override BIAS: bool = false;

struct Params {
  rows: u32,
  size: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

const WG = 256u;
var<workgroup> partial: array<f32, WG>;

// The sum of `value` over the THREADS_PER_ROW lanes of this invocation's row, returned to every lane.
// Called in uniform control flow by every invocation of the workgroup.
fn rowSum(lid: u32, lane: u32, value: f32) -> f32 {
  if (THREADS_PER_ROW == 1u) {
    return value;
  }
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[lid - lane];
  // Every lane has read its row's total before the next call overwrites the buffer.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * (WG / THREADS_PER_ROW) + lid / THREADS_PER_ROW;
  let lane = lid % THREADS_PER_ROW;
  let inRange = row < params.rows;
  let base = row * params.size;
  let size = f32(params.size);

  var shift = 0.0;
  var sum = 0.0;
  if (inRange) {
    shift = x[base];
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      sum += x[base + c] - shift;
    }
  }
  // mean - shift, accurate at the scale of the row's spread.
  let meanOffset = rowSum(lid, lane, sum) / size;

  var squares = 0.0;
  if (inRange) {
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      let deviation = (x[base + c] - shift) - meanOffset;
      squares += deviation * deviation;
    }
  }
  let rowRstd = inverseSqrt(rowSum(lid, lane, squares) / size + params.eps);

  if (inRange) {
    for (var c = lane; c < params.size; c += THREADS_PER_ROW) {
      var y = ((x[base + c] - shift) - meanOffset) * rowRstd;
      if (AFFINE) {
        y *= weight[c];
      }
      if (BIAS) {
        y += bias[c];
      }
      out[base + c] = y;
    }
    if (lane == 0u) {
      mean[row] = shift + meanOffset;
      rstd[row] = rowRstd;
    }
  }
}
