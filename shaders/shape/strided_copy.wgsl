// strided_copy: for every multi-index i of `shape` (up to 8 dimensions),
//   out[outOffset + sum_d i_d * outStrides_d] = x[inOffset + sum_d i_d * inStrides_d].
// One kernel serves permute (permuted input strides), narrow (an input offset), expand (input stride 0),
// cat (an output offset and the output's strides) and pad (the interior of a pre-filled output). The
// host merges dimensions both sides walk as one, and uses copyBufferToBuffer when one run remains.
//
// Thread mapping: one invocation per 4 consecutive elements of `shape` in row-major order; 256 per
// workgroup; workgroups folded into y past 65535 (linear index wid.x + wid.y * nwg.x). The multi-index
// of the first element is decomposed once; the next three advance it with a carry.
// Bounds: elements at or past `count` are neither read nor written.

struct Params {
  count: u32,
  ndim: u32,
  inOffset: u32,
  outOffset: u32,
  shape: array<vec4<u32>, 2>,
  inStrides: array<vec4<u32>, 2>,
  outStrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn dimension(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = ((wid.x + wid.y * nwg.x) * 256u + lid) * 4u;
  if (first >= params.count) {
    return;
  }
  let ndim = params.ndim;
  var index: array<u32, 8>;
  var rest = first;
  var src = params.inOffset;
  var dst = params.outOffset;
  for (var d = ndim; d > 0u; d--) {
    let size = dimension(params.shape, d - 1u);
    index[d - 1u] = rest % size;
    rest /= size;
    src += index[d - 1u] * dimension(params.inStrides, d - 1u);
    dst += index[d - 1u] * dimension(params.outStrides, d - 1u);
  }
  let lanes = min(4u, params.count - first);
  for (var k = 0u; k < lanes; k++) {
    out[dst] = x[src];
    for (var d = ndim; d > 0u; d--) {
      let size = dimension(params.shape, d - 1u);
      let inStride = dimension(params.inStrides, d - 1u);
      let outStride = dimension(params.outStrides, d - 1u);
      index[d - 1u] += 1u;
      src += inStride;
      dst += outStride;
      if (index[d - 1u] < size) {
        break;
      }
      index[d - 1u] = 0u;
      src -= size * inStride;
      dst -= size * outStride;
    }
  }
}
