// Adaptive average pooling forward over planes of x [N*C, inH, inW] to [N*C, outH, outW], PyTorch's bins:
// output row oh averages input rows [floor(oh*inH/outH), ceil((oh+1)*inH/outH)), likewise columns
// (bins overlap when the sizes do not divide, and repeat rows when out > in).
// Thread mapping: one invocation per output element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); bins lie inside the input by construction.

struct Params {
  count: u32,              // planes · rows · columns of the grid
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// Bin o of `count` over `size` positions: [floor(o*size/count), ceil((o+1)*size/count)).
fn bin(o: u32, size: u32, count: u32) -> vec2u {
  return vec2u(o * size / count, ((o + 1u) * size + count - 1u) / count);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (index >= params.count) {
    return;
  }
  let ow = index % params.outW;
  let oh = (index / params.outW) % params.outH;
  let plane = index / (params.outW * params.outH);
  let o = (plane * params.outH + oh) * params.outW + ow;
  let rows = bin(oh, params.inH, params.outH);
  let cols = bin(ow, params.inW, params.outW);
  let base = plane * params.inH * params.inW;
  var sum = 0.0;
  for (var ih = rows.x; ih < rows.y; ih++) {
    for (var iw = cols.x; iw < cols.y; iw++) {
      sum += x[base + ih * params.inW + iw];
    }
  }
  out[o] = sum / f32((rows.y - rows.x) * (cols.y - cols.x));
}
