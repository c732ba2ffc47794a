// Adaptive average pooling forward over planes of x [N*C, inH, inW] to [N*C, outH, outW], PyTorch's bins:
// output row oh averages input rows [floor(oh*inH/outH), ceil((oh+1)*inH/outH)), likewise columns
// (bins overlap when the sizes do not divide, and repeat rows when out > in).
// Thread mapping: 8x8 invocations per workgroup over a tile of output columns x rows of one plane
// (plane = wid.z + firstPlane: the host splits more planes than a dispatch dimension holds), so that
// no coordinate needs a division. Bounds: columns and rows checked against the output size; bins lie
// inside the input by construction.

struct Params {
  firstPlane: u32,
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

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let ow = gid.x;
  let oh = gid.y;
  if (ow >= params.outW || oh >= params.outH) {
    return;
  }
  let plane = wid.z + params.firstPlane;
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
