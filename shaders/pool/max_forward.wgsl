// Max pooling forward over planes of x [N*C, inH, inW]: out[p, oh, ow] is the maximum of the window rows
// [oh*strideH - padH, + kernelH) x columns [ow*strideW - padW, + kernelW), clipped to the input; indices
// holds where it was found (ih * inW + iw within the plane, PyTorch's convention). Ties go to the FIRST
// maximum in row-major order, and a NaN wins (the last NaN seen), exactly as PyTorch's CPU kernel, whose
// running maximum starts at -inf with the index of the first element (starting from that element is the
// same).
// Thread mapping: one invocation per output element, flat over all planes (PCNN's maps are as small as
// 1x2, where a tile per plane would leave most invocations idle): index = (wid.x + wid.y·nwg.x)·64 +
// local index, split into (plane, row, column) by two divisions. Bounds: index < count (the host folds
// workgroups past the dispatch limit into y); window rows/columns clipped to [0, inH) x [0, inW) (the
// host guarantees padding <= kernel / 2, so every window holds at least one element).

struct Params {
  count: u32,              // planes · rows · columns of the grid
}

// The window geometry as override constants: divisions by them compile to multiplications (a division by
// a uniform is a scalar instruction per lane on CPU adapters), and the window loops get constant bounds.
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
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

// By bits, since compilers may assume that v != v is false.
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (index >= params.count) {
    return;
  }
  let ow = index % OUT_W;
  let oh = (index / OUT_W) % OUT_H;
  let plane = index / (OUT_W * OUT_H);
  let o = (plane * OUT_H + oh) * OUT_W + ow;
  let hFrom = i32(oh * STRIDE_H) - i32(PAD_H);
  let wFrom = i32(ow * STRIDE_W) - i32(PAD_W);
  let hEnd = min(hFrom + i32(KERNEL_H), i32(IN_H));
  let wEnd = min(wFrom + i32(KERNEL_W), i32(IN_W));
  let hStart = max(hFrom, 0);
  let wStart = max(wFrom, 0);
  let base = plane * IN_H * IN_W;
  var bestIndex = hStart * i32(IN_W) + wStart;
  var best = x[base + u32(bestIndex)];
  for (var ih = hStart; ih < hEnd; ih++) {
    for (var iw = wStart; iw < wEnd; iw++) {
      let index = ih * i32(IN_W) + iw;
      let v = x[base + u32(index)];
      if (v > best || isNan(v)) {
        best = v;
        bestIndex = index;
      }
    }
  }
  out[o] = best;
  indices[o] = bestIndex;
}
