// conv2d forward, direct: one output pixel × 8 output channels per invocation, every size taken from
// the uniforms, so it serves any shape (the fallback when the gemm kernel's input-row segment does
// not fit its registers, e.g. very large strides), with a fused epilogue:
//   y[n, o, oh, ow] = act(bias[o] + residual[n, o, oh, ow]
//                         + Σ_{c < Cg, kh, kw} x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw] · w[o, c, kh, kw])
// where g = o / Og and act is ReLU when RELU, else the identity.
//
// Thread mapping: the linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index
// enumerates the output pixels (n, oh, ow); wid.z enumerates blocks of 8 output channels within a
// group (group-major), so all lanes of a workgroup load the same weights.
// Tiling: none; two vec4 accumulators in registers. The valid kh / kw ranges are computed once per
// pixel, so the tap loops need no bounds checks.
// Bounds: pixels past the end return at once; weight rows past the group's end are clamped to its
// last channel and not stored.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  blocksPerGroup: u32,   // ceil(Og / CHANNELS)
  pixelCount: u32,       // N · OH · OW
}

override WG: u32 = 64;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

// Output channels per invocation: the lanes of two vec4 accumulators, lo and hi.
const CHANNELS: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// First tap k in [0, K) with origin + k·d >= 0, and one past the last with origin + k·d < size.
fn tap_range(origin: i32, d: i32, size: i32, K: i32) -> vec2<i32> {
  let first = select(0, (-origin + d - 1) / d, origin < 0);
  let last = min(K, select(0, (size - 1 - origin) / d + 1, origin < size));
  return vec2<i32>(first, last);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let pixel = (wid.x + wid.y * nwg.x) * WG + lid;
  if (pixel >= params.pixelCount) {
    return;
  }
  let H = i32(params.xShape.z);
  let W = i32(params.xShape.w);
  let O = params.yShape.y;
  let OH = params.yShape.z;
  let OW = params.yShape.w;
  let KH = i32(params.window.x);
  let KW = i32(params.window.y);
  let Cg = params.window.z;
  let Og = params.window.w;

  let ow = pixel % OW;
  let oh = (pixel / OW) % OH;
  let n = pixel / (OW * OH);
  let g = wid.z / params.blocksPerGroup;
  let o0 = g * Og + (wid.z % params.blocksPerGroup) * CHANNELS;
  let o_last = min(o0 + CHANNELS - 1u, g * Og + Og - 1u);
  let k_len = Cg * u32(KH * KW);
  let rows_lo = vec4<u32>(o0, min(o0 + 1u, o_last), min(o0 + 2u, o_last), min(o0 + 3u, o_last)) * k_len;
  let rows_hi = vec4<u32>(min(o0 + 4u, o_last), min(o0 + 5u, o_last), min(o0 + 6u, o_last), o_last) * k_len;

  let ih0 = i32(oh) * params.stridePad.x - params.stridePad.z;
  let iw0 = i32(ow) * params.stridePad.y - params.stridePad.w;
  let kh_range = tap_range(ih0, params.dilation.x, H, KH);
  let kw_range = tap_range(iw0, params.dilation.y, W, KW);

  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var c = 0u; c < Cg; c++) {
    let plane = (n * params.xShape.y + g * Cg + c) * u32(H * W);
    for (var kh = kh_range.x; kh < kh_range.y; kh++) {
      let x_row = plane + u32((ih0 + kh * params.dilation.x) * W + iw0);
      let w_row = c * u32(KH * KW) + u32(kh * KW);
      for (var kw = kw_range.x; kw < kw_range.y; kw++) {
        let v = x[x_row + u32(kw * params.dilation.y)];
        let k = w_row + u32(kw);
        lo += v * vec4<f32>(w[rows_lo.x + k], w[rows_lo.y + k], w[rows_lo.z + k], w[rows_lo.w + k]);
        hi += v * vec4<f32>(w[rows_hi.x + k], w[rows_hi.y + k], w[rows_hi.z + k], w[rows_hi.w + k]);
      }
    }
  }

  let at = (n * O * OH + oh) * OW + ow;
  for (var i = 0u; i < CHANNELS; i++) {
    let o = o0 + i;
    if (o > o_last) {
      break;
    }
    var v = select(lo[i & 3u], hi[i & 3u], i >= 4u);
    if (HAS_BIAS) {
      v += bias[o];
    }
    let index = at + o * OH * OW;
    if (HAS_RESIDUAL) {
      v += residual[index];
    }
    if (RELU) {
      v = max(v, 0.0);
    }
    y[index] = v;
  }
}
