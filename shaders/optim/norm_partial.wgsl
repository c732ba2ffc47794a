// norm_partial: first pass of clip_grad_norm_'s total norm. For one gradient tensor it writes
// partialCount partial results into partials[offset ..): invocation t combines the elements of the
// vec4s t, t + partialCount, t + 2 * partialCount, ... (coalesced: neighbours read neighbouring vec4s):
//   NORM_L2 (p = 2):     sum of g * g            (squares exactly, not through pow)
//   NORM_MAX (p = inf):  max of |g|, NaN propagating as torch's max does
//   NORM_P (other p):    sum of |g|^p
// norm_total combines the partials of all tensors. The host picks partialCount = ceil(vec4s / 16).
// Thread mapping: one invocation per partial, 256 per workgroup, workgroups folded into y past 65535
// (index = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: invocations t >= partialCount return; element lanes at or past count contribute nothing
// (pool buffers are whole multiples of 16 bytes, so the last vec4 exists).

override NORM: u32 = 0u;
const NORM_L2 = 0u;
const NORM_MAX = 1u;
const NORM_P = 2u;

struct Params {
  count: u32,
  partialCount: u32,
  offset: u32,
  p: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

// max of two values >= 0 (or NaN with the sign bit clear, as abs gives) that returns NaN when either is
// NaN, as torch's max does (WGSL's max leaves NaN undefined): for such values the order of the bit
// patterns is the order of the numbers, and NaN's patterns lie above infinity's.
fn maxPropagatingNaN(a: f32, b: f32) -> f32 {
  return bitcast<f32>(max(bitcast<u32>(a), bitcast<u32>(b)));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (t >= params.partialCount) {
    return;
  }
  let vec4s = (params.count + 3u) / 4u;
  var acc = 0.0;
  for (var i = t; i < vec4s; i += params.partialCount) {
    let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(params.count - i * 4u);
    let a = select(vec4f(0.0), abs(grad[i]), inTensor);
    if (NORM == NORM_L2) {
      acc += dot(a, a);
    } else if (NORM == NORM_MAX) {
      acc = maxPropagatingNaN(maxPropagatingNaN(acc, a.x), a.y);
      acc = maxPropagatingNaN(maxPropagatingNaN(acc, a.z), a.w);
    } else {
      let powered = pow(a, vec4f(params.p));
      acc += powered.x + powered.y + powered.z + powered.w;
    }
  }
  partials[params.offset + t] = acc;
}
