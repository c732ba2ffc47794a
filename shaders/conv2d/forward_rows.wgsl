// conv2d forward as an implicit GEMM over flattened rows, for small feature maps (any kernel size,
// stride, padding, dilation, groups), with the fused epilogue of forward_gemm.wgsl:
//   y[n, o, oh, ow] = act(bias[o] + residual[n, o, oh, ow]
//                         + Σ_{c < Cg, kh, kw} x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw] · w[o, c, kh, kw])
// The output is seen as a matrix of M = N·OH·OW rows (batch and pixels flattened together, so that
// maps one to a few pixels wide still fill every lane) by Og columns per group, K = Cg·kH·kW.
//
// Thread mapping: one invocation computes ROWS = 4 consecutive rows m × COLS = 16 output channels of
// one group (measured on lavapipe: 8 rows spill registers next to 16 channels and lose). The linear
// workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates the row blocks; wid.z
// enumerates the channel blocks (group-major). All lanes of a workgroup share the channel block, so at
// each step of the K loop they all need the same COLS weights: lane l of a subgroup loads those of
// channels o0 + l mod 8 and o0 + 8 + l mod 8, and subgroupBroadcast hands all COLS values to every lane
// (the host runs this kernel only where subgroups have at least 8 lanes). lavapipe (Mesa 25.0) loads
// even a uniform address once per lane: sharing cuts the loads per step from ROWS + COLS to ROWS + 2
// for ROWS·COLS multiply-adds (2-3x on PCNN's maps with 8 channels, 4 rows and no sharing; 16 channels
// gain a further ~1.3x).
// Tiling: registers only (no workgroup memory, no barriers). The loops run over the taps that some
// pixel uses (on a 1×2 map a 3×3 window reads padding only in 6 of 9 taps), then input
// channels: each row's tap offset and validity are computed once per tap, so the channel loop has no
// index arithmetic beyond one add per row. No early return and every loop bound is uniform, so the
// broadcasts run in uniform control flow with every lane of the subgroup active.
// Bounds: taps outside the input read as zero (clamped address, select); rows past M compute on row
// M − 1 and store nothing; weight rows of channels past the group's end are clamped to its last
// channel and never stored.

enable subgroups;

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  tapLo: vec2<u32>,      // first kh, kw that reads inside the input for some output pixel
  tapHi: vec2<u32>,      // one past the last such kh, kw
  rows: u32,             // M = N · OH · OW
  blocksPerGroup: u32,   // ceil(Og / COLS)
}

override WG: u32 = 64;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

const ROWS: u32 = 4u;
// Lanes that share one load (the width of shared8 below).
const SHARED: u32 = 8u;
const COLS: u32 = 2u * SHARED;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// <shared8> (identical in conv2d/*_rows.wgsl and matmul/registers.wgsl; a test checks it)
// The values of lanes 0..7 of the subgroup, in every lane.
fn shared8(v: f32) -> array<f32, SHARED> {
  return array<f32, SHARED>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                            subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
// </shared8>

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let C = params.xShape.y;
  let H = params.xShape.z;
  let W = params.xShape.w;
  let O = params.yShape.y;
  let OH = params.yShape.z;
  let OW = params.yShape.w;
  let KH = params.window.x;
  let KW = params.window.y;
  let Cg = params.window.z;
  let Og = params.window.w;
  let HW = H * W;
  let OHW = OH * OW;
  let taps = KH * KW;

  let g = wid.z / params.blocksPerGroup;
  let o0 = g * Og + (wid.z % params.blocksPerGroup) * COLS;
  let o_last = min(o0 + COLS - 1u, g * Og + Og - 1u);
  let w_lo = min(o0 + lane % SHARED, o_last) * Cg * taps;
  let w_hi = min(o0 + SHARED + lane % SHARED, o_last) * Cg * taps;

  let m0 = ((wid.x + wid.y * nwg.x) * WG + lid) * ROWS;
  // Per row: the input image's first channel of the group, the top-left input coordinate of its
  // window, and where its output pixel goes (n·O·OHW + pixel; channel o adds o·OHW).
  var x_img: array<u32, ROWS>;
  var ih0: array<i32, ROWS>;
  var iw0: array<i32, ROWS>;
  var y_at: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let m = min(m0 + i, params.rows - 1u);
    let n = m / OHW;
    let p = m % OHW;
    x_img[i] = (n * C + g * Cg) * HW;
    ih0[i] = i32(p / OW) * params.stridePad.x - params.stridePad.z;
    iw0[i] = i32(p % OW) * params.stridePad.y - params.stridePad.w;
    y_at[i] = n * O * OHW + p;
  }

  var acc: array<array<f32, COLS>, ROWS>;
  for (var kh = params.tapLo.x; kh < params.tapHi.x; kh++) {
    for (var kw = params.tapLo.y; kw < params.tapHi.y; kw++) {
      var at: array<u32, ROWS>;
      var ok: array<bool, ROWS>;
      for (var i = 0u; i < ROWS; i++) {
        let ih = ih0[i] + i32(kh) * params.dilation.x;
        let iw = iw0[i] + i32(kw) * params.dilation.y;
        ok[i] = ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W);
        at[i] = x_img[i] + select(0u, u32(ih) * W + u32(iw), ok[i]);
      }
      var k = kh * KW + kw;
      for (var c = 0u; c < Cg; c++) {
        var xv: array<f32, ROWS>;
        for (var i = 0u; i < ROWS; i++) {
          xv[i] = select(0.0, x[at[i]], ok[i]);
          at[i] += HW;
        }
        let lo = shared8(w[w_lo + k]);
        let hi = shared8(w[w_hi + k]);
        for (var j = 0u; j < SHARED; j++) {
          for (var i = 0u; i < ROWS; i++) {
            acc[i][j] = fma(xv[i], lo[j], acc[i][j]);
            acc[i][j + SHARED] = fma(xv[i], hi[j], acc[i][j + SHARED]);
          }
        }
        k += taps;
      }
    }
  }

  for (var i = 0u; i < ROWS; i++) {
    if (m0 + i >= params.rows) {
      break;
    }
    for (var j = 0u; j < COLS; j++) {
      let o = o0 + j;
      if (o > o_last) {
        break;
      }
      let at = y_at[i] + o * OHW;
      var v = acc[i][j];
      if (HAS_BIAS) {
        v += bias[o];
      }
      if (HAS_RESIDUAL) {
        v += residual[at];
      }
      if (RELU) {
        v = max(v, 0.0);
      }
      y[at] = v;
    }
  }
}
