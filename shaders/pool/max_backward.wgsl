// Max pooling backward, in gather form (no atomics, deterministic): dx[p, ih, iw] is the sum of dy over
// the output windows that contain (ih, iw) AND chose it as their maximum (indices[p, oh, ow] == ih*inW + iw).
// The windows containing row ih are oh in [ceil((ih + padH - kernelH + 1) / strideH), (ih + padH) / strideH]
// clamped to [0, outH); likewise for columns.
// Thread mapping: one invocation per input element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); window ranges clamped to the output.

struct Params {
  count: u32,              // planes · rows · columns of the grid
}

// The window geometry as override constants: divisions by them compile to multiplications (a division by
// a uniform is a scalar instruction per lane on CPU adapters).
override IN_H: u32;
override IN_W: u32;
override OUT_H: u32;
override OUT_W: u32;
override KERNEL_H: u32;
override KERNEL_W: u32;
override STRIDE_H: u32;
override STRIDE_W: u32;
override PAD_H: u32;
override PAD_W: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// <windows-containing> (identical in shaders/pool/max_backward.wgsl and avg_backward.wgsl; a test checks it)
// The first and last window (along one axis) whose span [o*stride - pad, + kernel) contains position i.
fn windowsContaining(i: u32, kernel: u32, stride: u32, pad: u32, count: u32) -> vec2i {
  let reach = i32(i + pad);
  let first = select(0, (reach - i32(kernel)) / i32(stride) + 1, reach >= i32(kernel));
  let last = min(reach / i32(stride), i32(count) - 1);
  return vec2i(first, last);
}
// </windows-containing>

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (index >= params.count) {
    return;
  }
  let iw = index % IN_W;
  let ih = (index / IN_W) % IN_H;
  let plane = index / (IN_W * IN_H);
  let position = i32(ih * IN_W + iw);
  let rows = windowsContaining(ih, KERNEL_H, STRIDE_H, PAD_H, OUT_H);
  let cols = windowsContaining(iw, KERNEL_W, STRIDE_W, PAD_W, OUT_W);
  let base = plane * OUT_H * OUT_W;
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let o = base + u32(oh) * OUT_W + u32(ow);
      if (indices[o] == position) {
        sum += dy[o];
      }
    }
  }
  dx[(plane * IN_H + ih) * IN_W + iw] = sum;
}
