// norm_total: second pass of clip_grad_norm_. One workgroup combines the `count` partials of
// norm_partial (sum, or max for NORM_MAX) into the total norm (sum^(1/p); sqrt for p = 2) and the clip
// coefficient torch uses, min(maxNorm / (total + 1e-6), 1), kept NaN when the total is NaN so that
// the gradients become NaN as in torch.
// Thread mapping: one workgroup of 256; invocation l reads partials l, l + 256, ...; then a tree
// reduction in workgroup memory (8 halvings, a barrier after the stores and after each halving), and
// invocation 0 writes.
// Bounds: partial reads checked against count; each halving reads only slots below 2 * stride.

override NORM: u32 = 0u;
const NORM_L2 = 0u;
const NORM_MAX = 1u;
const NORM_P = 2u;

struct Params {
  count: u32,
  p: f32,
  maxNorm: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;
@group(0) @binding(3) var<storage, read_write> coef: array<f32>;

var<workgroup> scratch: array<f32, 256>;

// max of two values >= 0 (or NaN with the sign bit clear, as abs gives) that returns NaN when either is
// NaN, as torch's max does (WGSL's max leaves NaN undefined): for such values the order of the bit
// patterns is the order of the numbers, and NaN's patterns lie above infinity's.
fn maxPropagatingNaN(a: f32, b: f32) -> f32 {
  return bitcast<f32>(max(bitcast<u32>(a), bitcast<u32>(b)));
}

fn combine(a: f32, b: f32) -> f32 {
  if (NORM == NORM_MAX) {
    return maxPropagatingNaN(a, b);
  }
  return a + b;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.count; i += 256u) {
    acc = combine(acc, partials[i]);
  }
  scratch[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      scratch[lid] = combine(scratch[lid], scratch[lid + stride]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var norm = scratch[0];
    if (NORM == NORM_L2) {
      norm = sqrt(norm);
    } else if (NORM == NORM_P) {
      norm = pow(norm, 1.0 / params.p);
    }
    total[0] = norm;
    let c = params.maxNorm / (norm + 1e-6);
    coef[0] = select(c, 1.0, c > 1.0);
  }
}
