// reduce: sum or max (override OP) over any set of axes, without permuting the input. The host splits
// the input's dimensions into kept ones (the output's, in order) and reduced ones, each list with its
// sizes and input strides (merged where contiguous, up to 8 each), so an output index maps to an input
// base offset and a reduction index r in [0, reduceCount) to an offset added to it.
//
// Thread mapping: one invocation per (output element o, chunk c), linear index o * chunks + c, 256 per
// workgroup, workgroups folded into y past 65535. It reduces r in [c * chunkSize, (c + 1) * chunkSize)
// and writes scale * result to out[o * chunks + c]. chunks > 1 splits long reductions with few outputs
// into partial results that a second pass reduces; the host passes chunks = 1 and chunkSize =
// reduceCount otherwise. The reduced multi-index is decomposed once per invocation and then advanced
// with a carry.
// Bounds: invocations past outCount * chunks return; an empty range (reduceCount = 0, sums only)
// writes 0 without reading.

struct Params {
  outCount: u32,
  chunks: u32,
  chunkSize: u32,
  reduceCount: u32,
  keptNdim: u32,
  reducedNdim: u32,
  scale: f32,
  keptShape: array<vec4<u32>, 2>,
  keptStrides: array<vec4<u32>, 2>,
  reducedShape: array<vec4<u32>, 2>,
  reducedStrides: array<vec4<u32>, 2>,
}

override OP: u32 = 0u;
const SUM = 0u;
const MAX = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn dimension(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

// By bits: compilers may assume v != v is false.
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == MAX) {
    // v > acc alone would drop a NaN; PyTorch's max propagates it (and a NaN accumulator stays).
    return select(acc, v, v > acc || isNan(v));
  }
  return acc + v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let task = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (task >= params.outCount * params.chunks) {
    return;
  }
  let o = task / params.chunks;
  let c = task % params.chunks;

  var base = 0u;
  var rest = o;
  for (var d = params.keptNdim; d > 0u; d--) {
    let size = dimension(params.keptShape, d - 1u);
    base += (rest % size) * dimension(params.keptStrides, d - 1u);
    rest /= size;
  }

  let start = c * params.chunkSize;
  let end = min(start + params.chunkSize, params.reduceCount);
  if (start >= end) {
    out[task] = 0.0;
    return;
  }
  let ndim = params.reducedNdim;
  var index: array<u32, 8>;
  var offset = base;
  rest = start;
  for (var d = ndim; d > 0u; d--) {
    let size = dimension(params.reducedShape, d - 1u);
    index[d - 1u] = rest % size;
    rest /= size;
    offset += index[d - 1u] * dimension(params.reducedStrides, d - 1u);
  }
  // Seeded with the first element: MAX needs no -inf constant (which WGSL cannot spell).
  var acc = x[offset];
  for (var r = start + 1u; r < end; r++) {
    for (var d = ndim; d > 0u; d--) {
      let size = dimension(params.reducedShape, d - 1u);
      let stride = dimension(params.reducedStrides, d - 1u);
      index[d - 1u] += 1u;
      offset += stride;
      if (index[d - 1u] < size) {
        break;
      }
      index[d - 1u] = 0u;
      offset -= size * stride;
    }
    acc = combine(acc, x[offset]);
  }
  out[task] = params.scale * acc;
}
