// PCNN's multi-domain fusion, backward, in one dispatch: the gradients of all five parts from the
// fused map's gradient, in gather form. Element (plane, row, col) of part p sits at stacked row
// R = band.firstRow + row and concatenated column k = col (+ leftW for a right part); its gradient is
//   sum over oh touching R (stack → outH) and ow touching k (band width → outW) of
//   wH(oh, R) * wW(ow, k) * dfused[plane, oh, ow],
// the transpose of the forward's index rule, with the same `taps`. Each invocation writes one element
// of one part once: no atomics, no zero-fill, deterministic.
// Thread mapping: one invocation per element of the five parts taken in argument order (a linear
// index over their concatenated sizes), 256 per workgroup, folded into y past 65535 workgroups.
// Tiling: none. Bounds: the linear index is checked against the parts' total size; output ranges
// come from `touching`, which stays within [0, outH] and [0, outW].

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dfused: array<f32>;
@group(0) @binding(2) var<storage, read_write> dleftEye: array<f32>;
@group(0) @binding(3) var<storage, read_write> drightEye: array<f32>;
@group(0) @binding(4) var<storage, read_write> dleftCheek: array<f32>;
@group(0) @binding(5) var<storage, read_write> drightCheek: array<f32>;
@group(0) @binding(6) var<storage, read_write> dmouth: array<f32>;

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

// <fusion-layout> (identical in shaders/fusion/forward.wgsl and backward.wgsl; a test checks it)
// The official composition, with E = the eye maps, K = the cheek maps, M = the mouth map:
//   eyes    = interpolate(cat([E_left, E_right], dim=3), size=[eyesH, outW])
//   cheeks  = interpolate(cat([K_left, K_right], dim=3), size=[cheeksH, outW])
//   mouth'  = interpolate(M, size=[mouthH, outW])        (an identity when M is outW wide)
//   fused   = interpolate(cat([eyes, cheeks, mouth'], dim=2), size=[outH, outW])
// all bilinear with aligned corners. The first three keep their heights, which makes their height
// axes identities (PyTorch copies equal-size axes), and the last keeps the width: so a fused pixel
// reads two stacked rows, each a width resampling of one band's concatenated row.
struct Params {
  planes: u32,           // N * C
  outH: u32,
  outW: u32,
  eyesH: u32,
  leftEyeW: u32,
  rightEyeW: u32,
  cheeksH: u32,
  leftCheekW: u32,
  rightCheekW: u32,
  mouthH: u32,
  mouthW: u32,
  eyesScale: f32,        // width scale of each band: its concatenated width → outW
  cheeksScale: f32,
  mouthScale: f32,
  stackScale: f32,       // height scale: eyesH + cheeksH + mouthH → outH
}

// A band of the stack: 0 eyes, 1 cheeks, 2 mouth (whose "right" part is empty). Its parts are maps
// 2 * band (left) and 2 * band + 1 (right), in argument order.
struct Band {
  height: u32,
  firstRow: u32,         // its first row in the stack
  leftW: u32,
  rightW: u32,
  scale: f32,
}

fn band(b: u32) -> Band {
  switch b {
    case 0u: {
      return Band(params.eyesH, 0u, params.leftEyeW, params.rightEyeW, params.eyesScale);
    }
    case 1u: {
      return Band(params.cheeksH, params.eyesH, params.leftCheekW, params.rightCheekW, params.cheeksScale);
    }
    default: {
      return Band(params.mouthH, params.eyesH + params.cheeksH, params.mouthW, 0u, params.mouthScale);
    }
  }
}

fn stackHeight() -> u32 {
  return params.eyesH + params.cheeksH + params.mouthH;
}
// </fusion-layout>

fn writePart(part: u32, at: u32, value: f32) {
  switch part {
    case 0u: { dleftEye[at] = value; }
    case 1u: { drightEye[at] = value; }
    case 2u: { dleftCheek[at] = value; }
    case 3u: { drightCheek[at] = value; }
    default: { dmouth[at] = value; }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // Find the part holding this linear index, and the index within it.
  var at = (wid.x + wid.y * nwg.x) * 256u + lid;
  var part = 0u;
  var width = 0u;
  loop {
    if (part == 5u) {
      return;
    }
    let bd = band(part / 2u);
    width = select(bd.leftW, bd.rightW, part % 2u == 1u);
    let size = params.planes * bd.height * width;
    if (at < size) {
      break;
    }
    at -= size;
    part++;
  }
  let bd = band(part / 2u);
  let col = at % width;
  let row = (at / width) % bd.height;
  let plane = at / (width * bd.height);
  let r = bd.firstRow + row;
  let k = col + select(0u, bd.leftW, part % 2u == 1u);
  let catW = bd.leftW + bd.rightW;
  let rows = touching(r, params.outH, stackHeight(), params.stackScale, true);
  let cols = touching(k, params.outW, catW, bd.scale, true);
  var sum = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    let wh = weightOf(taps(oh, stackHeight(), params.stackScale, true), r);
    let base = (plane * params.outH + oh) * params.outW;
    var rowSum = 0.0;
    for (var ow = cols.x; ow < cols.y; ow++) {
      rowSum += weightOf(taps(ow, catW, bd.scale, true), k) * dfused[base + ow];
    }
    sum += wh * rowSum;
  }
  writePart(part, at, sum);
}
