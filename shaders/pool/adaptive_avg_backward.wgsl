// Adaptive average pooling backward, in gather form (no atomics, deterministic): dx[p, ih, iw] is the sum,
// over the output bins containing (ih, iw), of dy / that bin's size (bins as in adaptive_avg_forward.wgsl).
// Bins containing row ih: oh in [floor(ih*outH/inH), floor(((ih+1)*outH - 1)/inH)] (from start(oh) <= ih
// < end(oh)); likewise for columns.
// Thread mapping: one invocation per input element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); the bin ranges lie inside the output by construction.

struct Params {
  count: u32,              // planes · rows · columns of the grid
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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (index >= params.count) {
    return;
  }
  let iw = index % params.inW;
  let ih = (index / params.inW) % params.inH;
  let plane = index / (params.inW * params.inH);
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
