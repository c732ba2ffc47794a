// Average pooling forward over planes of x [N*C, inH, inW], as PyTorch's avg_pool2d: the window of output
// (oh, ow) spans rows [oh*strideH - padH, + kernelH) cut at inH + padH (ceil mode can run a window past the
// padding), likewise columns; out = sum of the in-bounds elements / divisor, where the divisor counts the
// window after that cut including padding (COUNT_INCLUDE_PAD) or only its in-bounds elements.
// Thread mapping: one invocation per output element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); summed rows/columns clipped to [0, inH) x [0, inW).

struct Params {
  count: u32,              // planes · rows · columns of the grid
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
  kernelH: u32,
  kernelW: u32,
  strideH: u32,
  strideW: u32,
  padH: u32,
  padW: u32,
}

override COUNT_INCLUDE_PAD: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

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
  let hFrom = i32(oh * params.strideH) - i32(params.padH);
  let wFrom = i32(ow * params.strideW) - i32(params.padW);
  let hTo = min(hFrom + i32(params.kernelH), i32(params.inH + params.padH));
  let wTo = min(wFrom + i32(params.kernelW), i32(params.inW + params.padW));
  let hStart = max(hFrom, 0);
  let wStart = max(wFrom, 0);
  let hEnd = min(hTo, i32(params.inH));
  let wEnd = min(wTo, i32(params.inW));
  let base = plane * params.inH * params.inW;
  var sum = 0.0;
  for (var ih = hStart; ih < hEnd; ih++) {
    for (var iw = wStart; iw < wEnd; iw++) {
      sum += x[base + u32(ih) * params.inW + u32(iw)];
    }
  }
  let divisor = select((hEnd - hStart) * (wEnd - wStart), (hTo - hFrom) * (wTo - wFrom), COUNT_INCLUDE_PAD);
  out[o] = sum / f32(divisor);
}
