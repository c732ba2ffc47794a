// Adaptive average pooling forward over planes of x [N*C, inH, inW] to [N*C, outH, outW], PyTorch's bins:
// output row oh averages input rows [floor(oh*inH/outH), ceil((oh+1)*inH/outH)), likewise columns
// (bins overlap when the sizes do not divide, and repeat rows when out > in).
// Thread mapping: one invocation per output element, 256 per workgroup, workgroups folded into y past 65535
// (index wid.x + wid.y * nwg.x). Bounds: i < count; bins lie inside the input by construction.

struct Params {
  count: u32,
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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outH * params.outW;
  let plane = i / outPlane;
  let rows = bin((i % outPlane) / params.outW, params.inH, params.outH);
  let cols = bin(i % params.outW, params.inW, params.outW);
  let base = plane * params.inH * params.inW;
  var sum = 0.0;
  for (var ih = rows.x; ih < rows.y; ih++) {
    for (var iw = cols.x; iw < cols.y; iw++) {
      sum += x[base + ih * params.inW + iw];
    }
  }
  out[i] = sum / f32((rows.y - rows.x) * (cols.y - cols.x));
}
