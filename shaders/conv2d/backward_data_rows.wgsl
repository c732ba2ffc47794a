// conv2d backward wrt the input as a GEMM over flattened rows, for small feature maps (any kernel
// size, stride, padding, dilation, groups):
//   dx[n, g·Cg + c, ih, iw] = Σ_{o in group g} Σ_{kh, kw} dy[n, o, oh, ow] · w[o, c, kh, kw]
// over the taps with ih + ph − kh·dh = oh·sh and iw + pw − kw·dw = ow·sw for some 0 <= oh < OH,
// 0 <= ow < OW: the product of dy (rows: input pixels, K = Og·kH·kW) and the transposed weight.
// As in backward_data.wgsl, input pixels are split into sh·sw phases (ih mod sh, iw mod sw): within a
// phase every pixel meets the same taps, so taps that would hit a zero of the stride-dilated gradient
// are skipped whole, never computed.
//
// Thread mapping: within a phase, the pixels (ih, iw) = (phase_h + sh·r, phase_w + sw·q), r < PH =
// ceil(H / sh), q < PW = ceil(W / sw), of all images are flattened into M = N·PH·PW rows; one
// invocation computes ROWS = 4 consecutive rows × COLS = 16 input channels of one group (as in
// forward_rows.wgsl: 8 rows spill registers next to 16 channels on lavapipe). The
// linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates row blocks;
// wid.z enumerates (phase, group, channel block), phase-major. All lanes share phase and channels:
// the valid taps are uniform, and so are the COLS weights of each step of the K loop, which lane l of
// a subgroup loads for channels c0 + l mod 8 and c0 + 8 + l mod 8 and subgroupBroadcast shares
// (lavapipe would otherwise load each uniform address once per lane; the host needs subgroups of at
// least 8 lanes): ROWS + 2 loads per step for ROWS·COLS multiply-adds.
// Tiling: registers only, no barriers, no early return (the broadcasts run in uniform control flow).
// Only taps some output pixel reads inside the input are visited (the others pair no input pixel with a
// gradient). Per tap (kh, kw), each row's gradient offset and validity are computed once; the loop over
// output channels then adds OH·OW per row.
// Bounds: gradient positions outside [0, OH) × [0, OW) read as zero (clamped address, select); rows
// past M, and phase pixels past H or W (when sh ∤ H or sw ∤ W), compute on clamped data and store
// nothing; weight columns of channels past the group's end are clamped and never stored.

enable subgroups;

struct Params {
  xShape: vec4<u32>,     // N, C, H, W (of dx)
  yShape: vec4<u32>,     // N, O, OH, OW (of dy)
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  phaseGrid: vec2<u32>,  // PH, PW
  tapLo: vec2<u32>,      // first kh, kw that reads inside the input for some output pixel
  tapHi: vec2<u32>,      // one past the last such kh, kw
  rows: u32,             // M = N · PH · PW
  blocksPerGroup: u32,   // ceil(Cg / COLS)
}

override WG: u32 = 64;

const ROWS: u32 = 4u;
// Lanes that share one load (the width of shared8 below).
const SHARED: u32 = 8u;
const COLS: u32 = 2u * SHARED;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

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
  let OH = i32(params.yShape.z);
  let OW = i32(params.yShape.w);
  let KW = params.window.y;
  let Cg = params.window.z;
  let Og = params.window.w;
  let sh = params.stridePad.x;
  let sw = params.stridePad.y;
  let OHW = u32(OH * OW);
  let taps = params.window.x * KW;
  let PH = params.phaseGrid.x;
  let PW = params.phaseGrid.y;

  let channel_blocks = (C / Cg) * params.blocksPerGroup;
  let phase = i32(wid.z / channel_blocks);
  let phase_h = phase / sw;
  let phase_w = phase % sw;
  let g = (wid.z % channel_blocks) / params.blocksPerGroup;
  let c0 = (wid.z % params.blocksPerGroup) * COLS;
  let c_last = min(c0 + COLS - 1u, Cg - 1u);
  // w[o, c, kh, kw] = w[o·Cg·taps + c·taps + tap]: the offsets of the COLS channels at o = g·Og.
  let w_lo = (g * Og * Cg + min(c0 + lane % SHARED, c_last)) * taps;
  let w_hi = (g * Og * Cg + min(c0 + SHARED + lane % SHARED, c_last)) * taps;

  let m0 = ((wid.x + wid.y * nwg.x) * WG + lid) * ROWS;
  // Per row: the input pixel, and the first gradient channel of the group in its image.
  var ih: array<i32, ROWS>;
  var iw: array<i32, ROWS>;
  var n_of: array<u32, ROWS>;
  var dy_img: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let m = min(m0 + i, params.rows - 1u);
    let q = m % (PH * PW);
    n_of[i] = m / (PH * PW);
    ih[i] = phase_h + sh * i32(q / PW);
    iw[i] = phase_w + sw * i32(q % PW);
    dy_img[i] = (n_of[i] * O + g * Og) * OHW;
  }

  var acc: array<array<f32, COLS>, ROWS>;
  for (var kh = params.tapLo.x; kh < params.tapHi.x; kh++) {
    // t = ih + ph − kh·dh ≡ phase_h + ph − kh·dh (mod sh) for every row: a uniform test.
    let th = phase_h + params.stridePad.z - i32(kh) * params.dilation.x;
    if (((th % sh) + sh) % sh != 0) {
      continue;
    }
    for (var kw = params.tapLo.y; kw < params.tapHi.y; kw++) {
      let tw = phase_w + params.stridePad.w - i32(kw) * params.dilation.y;
      if (((tw % sw) + sw) % sw != 0) {
        continue;
      }
      var at: array<u32, ROWS>;
      var ok: array<bool, ROWS>;
      for (var i = 0u; i < ROWS; i++) {
        let t = ih[i] + params.stridePad.z - i32(kh) * params.dilation.x;
        let u = iw[i] + params.stridePad.w - i32(kw) * params.dilation.y;
        // t and u are multiples of the strides here, so the divisions are exact when t, u >= 0.
        let oh = t / sh;
        let ow = u / sw;
        ok[i] = t >= 0 && oh < OH && u >= 0 && ow < OW;
        at[i] = dy_img[i] + select(0u, u32(oh * OW + ow), ok[i]);
      }
      var k = kh * KW + kw;
      for (var o = 0u; o < Og; o++) {
        var dv: array<f32, ROWS>;
        for (var i = 0u; i < ROWS; i++) {
          dv[i] = select(0.0, dy[at[i]], ok[i]);
          at[i] += OHW;
        }
        let lo = shared8(w[w_lo + k]);
        let hi = shared8(w[w_hi + k]);
        for (var j = 0u; j < SHARED; j++) {
          for (var i = 0u; i < ROWS; i++) {
            acc[i][j] = fma(dv[i], lo[j], acc[i][j]);
            acc[i][j + SHARED] = fma(dv[i], hi[j], acc[i][j + SHARED]);
          }
        }
        k += Cg * taps;
      }
    }
  }

  for (var i = 0u; i < ROWS; i++) {
    if (m0 + i >= params.rows || ih[i] >= i32(H) || iw[i] >= i32(W)) {
      continue;
    }
    let x_at = (n_of[i] * C + g * Cg) * H * W + u32(ih[i]) * W + u32(iw[i]);
    for (var j = 0u; j < COLS; j++) {
      let c = c0 + j;
      if (c > c_last) {
        break;
      }
      dx[x_at + c * H * W] = acc[i][j];
    }
  }
}
