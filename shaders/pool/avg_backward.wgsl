// Average pooling backward, in gather form (no atomics, deterministic): dx[p, ih, iw] is the sum, over the
// output windows containing (ih, iw), of dy / that window's divisor (the divisor of avg_forward.wgsl:
// window cut at in + pad, counting padding with COUNT_INCLUDE_PAD, else only in-bounds elements).
// The windows containing row ih are oh in [ceil((ih + padH - kernelH + 1) / strideH), (ih + padH) / strideH]
// clamped to [0, outH); likewise for columns.
// Thread mapping: one invocation per input element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); window ranges clamped to the output.

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
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// <windows-containing> (identical in shaders/pool/max_backward.wgsl and avg_backward.wgsl; a test checks it)
// The first and last window (along one axis) whose span [o*stride - pad, + kernel) contains position i.
fn windowsContaining(i: u32, kernel: u32, stride: u32, pad: u32, count: u32) -> vec2i {
  let reach = i32(i + pad);
  let first = select(0, (reach - i32(kernel)) / i32(stride) + 1, reach >= i32(kernel));
  let last = min(reach / i32(stride), i32(count) - 1);
  return vec2i(first, last);
}
// </windows-containing>

// Along one axis, window o's extent cut at size + pad (.x, counted with padding) and cut to [0, size) (.y).
fn windowExtent(o: i32, kernel: u32, stride: u32, pad: u32, size: u32) -> vec2i {
  let lo = o * i32(stride) - i32(pad);
  let hi = min(lo + i32(kernel), i32(size + pad));
  return vec2i(hi - lo, min(hi, i32(size)) - max(lo, 0));
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
  let rows = windowsContaining(ih, params.kernelH, params.strideH, params.padH, params.outH);
  let cols = windowsContaining(iw, params.kernelW, params.strideW, params.padW, params.outW);
  let base = plane * params.outH * params.outW;
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    let height = windowExtent(oh, params.kernelH, params.strideH, params.padH, params.inH);
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let width = windowExtent(ow, params.kernelW, params.strideW, params.padW, params.inW);
      let divisor = select(height.y * width.y, height.x * width.x, COUNT_INCLUDE_PAD);
      sum += dy[base + u32(oh) * params.outW + u32(ow)] / f32(divisor);
    }
  }
  dx[(plane * params.inH + ih) * params.inW + iw] = sum;
}
