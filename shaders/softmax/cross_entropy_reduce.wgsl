// cross_entropy_reduce: the 'sum' or 'mean' reduction of cross_entropy_forward's per-row losses, as
// PyTorch 1.13 does it: with total = sum_n w[y_n] (the weights of the rows' labels),
//   sum:  out = sum_n loss[n],            divisor = 1
//   MEAN: out = sum_n loss[n] / total,    divisor = total
// (the smoothing term is normalised by the same total as the NLL term). `divisor` is what the
// backward divides the upstream gradient by.
//
// Thread mapping: a single workgroup of 256; invocation t sums rows t, t + 256, ... (the rows are one
// batch), then a tree in workgroup memory adds the 256 (loss, weight) pairs: 9 barriers.
// Bounds: rows checked against `rows`; an invalid label's weight counts as 0 (its loss is already
// NaN, which the sum carries).

override MEAN: bool = true;

struct Params {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> divisor: array<f32>;

var<workgroup> partial: array<vec2f, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2f(0.0);
  for (var n = lid; n < params.rows; n += 256u) {
    let label = labels[n];
    let valid = label >= 0 && u32(label) < params.classes;
    acc += vec2f(loss[n], select(0.0, weight[select(0u, u32(label), valid)], valid));
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let total = partial[0];
    if (MEAN) {
      out[0] = total.x / total.y;
      divisor[0] = total.y;
    } else {
      out[0] = total.x;
      divisor[0] = 1.0;
    }
  }
}
