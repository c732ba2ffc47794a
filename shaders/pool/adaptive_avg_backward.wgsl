// Adaptive average pooling backward, in gather form (no atomics, deterministic): dx[p, ih, iw] is the sum,
// over the output bins containing (ih, iw), of dy / that bin's size (bins as in adaptive_avg_forward.wgsl).
// Bins containing row ih: oh in [floor(ih*outH/inH), floor(((ih+1)*outH - 1)/inH)] (from start(oh) <= ih
// < end(oh)); likewise for columns.
// Thread mapping: 8x8 invocations per workgroup over a tile of input columns x rows of one plane
// (plane = wid.z + firstPlane: the host splits more planes than a dispatch dimension holds), so that
// no coordinate needs a division. Bounds: columns and rows checked against the input size; the bin
// ranges lie inside the output by construction.

struct Params {
  firstPlane: u32,
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// Size of bin o of `count` over `size` positions: ceil((o+1)*size/count) - floor(o*size/count).
fn binSize(o: u32, size: u32, count: u32) -> u32 {
  return ((o + 1u) * size + count - 1u) / count - o * size / count;
}

// The first and last bin (of `count` over `size` positions) containing position i.
fn binsContaining(i: u32, size: u32, count: u32) -> vec2u {
  return vec2u(i * count / size, ((i + 1u) * count - 1u) / size);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let iw = gid.x;
  let ih = gid.y;
  if (iw >= params.inW || ih >= params.inH) {
    return;
  }
  let plane = wid.z + params.firstPlane;
  let rows = binsContaining(ih, params.inH, params.outH);
  let cols = binsContaining(iw, params.inW, params.outW);
  let base = plane * params.outH * params.outW;
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    let height = binSize(oh, params.inH, params.outH);
    for (var ow = cols.x; ow <= cols.y; ow++) {
      sum += dy[base + oh * params.outW + ow] / f32(height * binSize(ow, params.inW, params.outW));
    }
  }
  dx[(plane * params.inH + ih) * params.inW + iw] = sum;
}
