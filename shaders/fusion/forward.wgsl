// PCNN's multi-domain fusion (Tian et al. 2025), forward, in one dispatch: the exact result of the
// official cat + bilinear interpolate composition (see the layout block), without materialising the
// intermediate eyes / cheeks / stack tensors.
// Thread mapping: one invocation per fused element (plane, oh, ow), 256 per workgroup, folded into y
// past 65535 workgroups. Each reads two stacked rows, each of them two taps of one part: 4 reads.
// Tiling: none. Bounds: the linear index is checked against planes * outH * outW; tap indices come
// from `taps`, which keeps them inside their axis, and the column split keeps each inside its part.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> leftEye: array<f32>;
@group(0) @binding(2) var<storage, read> rightEye: array<f32>;
@group(0) @binding(3) var<storage, read> leftCheek: array<f32>;
@group(0) @binding(4) var<storage, read> rightCheek: array<f32>;
@group(0) @binding(5) var<storage, read> mouth: array<f32>;
@group(0) @binding(6) var<storage, read_write> fused: array<f32>;

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

fn readPart(part: u32, at: u32) -> f32 {
  switch part {
    case 0u: { return leftEye[at]; }
    case 1u: { return rightEye[at]; }
    case 2u: { return leftCheek[at]; }
    case 3u: { return rightCheek[at]; }
    default: { return mouth[at]; }
  }
}

// Column col of row `row` of band b's concatenated (left | right) map, for plane `plane`.
fn concatenated(b: u32, plane: u32, row: u32, col: u32) -> f32 {
  let bd = band(b);
  if (col < bd.leftW) {
    return readPart(2u * b, (plane * bd.height + row) * bd.leftW + col);
  }
  return readPart(2u * b + 1u, (plane * bd.height + row) * bd.rightW + col - bd.leftW);
}

// Row r of the stack at column ow: band b's concatenated row resampled to outW columns.
fn stacked(plane: u32, r: u32, ow: u32) -> f32 {
  var b = 0u;
  if (r >= params.eyesH) {
    b = select(1u, 2u, r >= params.eyesH + params.cheeksH);
  }
  let bd = band(b);
  let row = r - bd.firstRow;
  let cols = taps(ow, bd.leftW + bd.rightW, bd.scale, true);
  return cols.w0 * concatenated(b, plane, row, cols.i0) + cols.w1 * concatenated(b, plane, row, cols.i1);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (index >= params.planes * params.outH * params.outW) {
    return;
  }
  let ow = index % params.outW;
  let oh = (index / params.outW) % params.outH;
  let plane = index / (params.outW * params.outH);
  let rows = taps(oh, stackHeight(), params.stackScale, true);
  fused[index] = rows.w0 * stacked(plane, rows.i0, ow) + rows.w1 * stacked(plane, rows.i1, ow);
}
