// Bilinear resampling of N*C planes from inSize to outSize, as PyTorch's upsample_bilinear2d (CPU),
// and its exact adjoint. Both entry points share one index rule (`taps`), so the backward is the
// transpose of the forward by construction.
//
// forward:  result[p, oh, ow] = sum over the 2x2 taps of source[p, ih, iw] * wH * wW
//           (source = x [planes, inH, inW], result = y [planes, outH, outW]).
// backward: result[p, ih, iw] = sum over the output pixels whose taps include (ih, iw) of
//           source[p, oh, ow] * wH * wW (source = dy, result = dx). Gather form: each invocation owns
//           one input pixel and writes it once, so no atomics and no zero-fill are needed. The output
//           rows (columns) touching input row ih are a contiguous range, found by binary search on the
//           monotone first tap `taps(o).i0`.
//
// Thread mapping: one invocation per result element (linear index over planes * rows * cols), 256
// per workgroup, workgroups folded into y past 65535 (index = wid.x + wid.y * nwg.x).
// Tiling: none; each output reads 4 inputs (forward) and each input about (out/in + 1)^2 outputs
// (backward), which on these sizes costs less than any staging in workgroup memory.
// Bounds: the linear index is checked against the result's element count; tap indices are clamped to
// the plane (see `taps`), so no read leaves the tensor.

struct Params {
  planes: u32,
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
  scaleH: f32,           // source pixels per output pixel along H and W, as PyTorch computes them
  scaleW: f32,
  alignCorners: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

// <axis-rule> (identical in shaders/resample/bilinear.wgsl and shaders/fusion/*.wgsl; a test checks it)
// The two input indices (i0 <= i1) and weights that output index `o` reads along one axis, as
// PyTorch's area_pixel_compute_source_index + compute_source_index_and_lambda. Without aligned
// corners the source coordinate is clamped at 0 (not at the far end: the weight clamp handles it);
// i1 equals i0 on the last input index. An axis whose input and output sizes are equal comes with
// scale 1, which makes this the identity (PyTorch copies in that case).
struct Taps {
  i0: u32,
  i1: u32,
  w0: f32,
  w1: f32,
}

fn taps(o: u32, inSize: u32, scale: f32, alignCorners: bool) -> Taps {
  var src: f32;
  if (alignCorners) {
    src = scale * f32(o);
  } else {
    src = max(scale * (f32(o) + 0.5) - 0.5, 0.0);
  }
  // The min keeps a rounding overshoot of src inside the axis; it never binds for exact arithmetic.
  let i0 = min(u32(src), inSize - 1u);
  let i1 = min(i0 + 1u, inSize - 1u);
  let w1 = clamp(src - f32(i0), 0.0, 1.0);
  return Taps(i0, i1, 1.0 - w1, w1);
}

// The first output index o in [0, outSize] whose first tap i0 is at least `i` (outSize if none).
fn firstReaching(i: u32, outSize: u32, inSize: u32, scale: f32, alignCorners: bool) -> u32 {
  var lo = 0u;
  var hi = outSize;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (taps(mid, inSize, scale, alignCorners).i0 >= i) {
      hi = mid;
    } else {
      lo = mid + 1u;
    }
  }
  return lo;
}

// The output indices whose taps include input index i: those with i0 in {i - 1, i}, as [start, end).
fn touching(i: u32, outSize: u32, inSize: u32, scale: f32, alignCorners: bool) -> vec2<u32> {
  var start = 0u;
  if (i > 0u) {
    start = firstReaching(i - 1u, outSize, inSize, scale, alignCorners);
  }
  return vec2<u32>(start, firstReaching(i + 1u, outSize, inSize, scale, alignCorners));
}

// The weight with which output index o reads input index i (0 when it does not).
fn weightOf(t: Taps, i: u32) -> f32 {
  return select(0.0, t.w0, t.i0 == i) + select(0.0, t.w1, t.i1 == i);
}
// </axis-rule>

fn linearIndex(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let index = linearIndex(wid, nwg, lid);
  let outH = params.outH;
  let outW = params.outW;
  if (index >= params.planes * outH * outW) {
    return;
  }
  let ow = index % outW;
  let oh = (index / outW) % outH;
  let plane = index / (outW * outH);
  let align = params.alignCorners != 0u;
  let inW = params.inW;
  let h = taps(oh, params.inH, params.scaleH, align);
  let w = taps(ow, inW, params.scaleW, align);
  let row0 = (plane * params.inH + h.i0) * inW;
  let row1 = (plane * params.inH + h.i1) * inW;
  result[index] = h.w0 * (w.w0 * source[row0 + w.i0] + w.w1 * source[row0 + w.i1])
                + h.w1 * (w.w0 * source[row1 + w.i0] + w.w1 * source[row1 + w.i1]);
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let index = linearIndex(wid, nwg, lid);
  let inH = params.inH;
  let inW = params.inW;
  if (index >= params.planes * inH * inW) {
    return;
  }
  let iw = index % inW;
  let ih = (index / inW) % inH;
  let plane = index / (inW * inH);
  let align = params.alignCorners != 0u;
  let outH = params.outH;
  let outW = params.outW;
  let rows = touching(ih, outH, inH, params.scaleH, align);
  let cols = touching(iw, outW, inW, params.scaleW, align);
  var sum = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    let wh = weightOf(taps(oh, inH, params.scaleH, align), ih);
    let row = (plane * outH + oh) * outW;
    var rowSum = 0.0;
    for (var ow = cols.x; ow < cols.y; ow++) {
      rowSum += weightOf(taps(ow, inW, params.scaleW, align), iw) * source[row + ow];
    }
    sum += wh * rowSum;
  }
  result[index] = sum;
}
