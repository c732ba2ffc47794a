// conv2d backward wrt the input (any kernel size, stride, padding, dilation, groups):
//   dx[n, g·Cg + c, ih, iw] = Σ_{o in group g} Σ_{kh, kw} dy[n, o, oh, ow] · w[o, c, kh, kw]
// over the taps with ih + ph − kh·dh = oh·sh and iw + pw − kw·dw = ow·sw for some 0 <= oh < OH,
// 0 <= ow < OW. Taps that would meet a zero of the stride-dilated gradient are skipped, not computed.
//
// Thread mapping: input pixels are split into sh·sw phases (ih mod sh, iw mod sw); wid.z enumerates
// (phase, channel block) pairs, phase-major, so all lanes of a workgroup share the phase and hence the
// set of valid taps (no lane divergence), and share the 4 input channels (uniform weight loads). One
// invocation computes 4 input channels × TP pixels ih, iw0 + j·sw (j < TP) of one row of its phase;
// those pixels meet consecutive gradient columns ow0 + j at every tap. The linear workgroup index
// (wid.x + wid.y·nwg.x) times WG plus the local index enumerates (n, ih / sh, pixel tile).
// Tiling: registers only. For each valid tap the per-pixel column validity is computed once; the
// loop over output channels then does TP + 4 loads for 4·TP multiply-adds.
// Bounds: rows past H return at once; pixels past W and channels past the group's end compute on
// clamped indices and store nothing; gradient columns outside [0, OW) read as zero.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W (of dx)
  yShape: vec4<u32>,     // N, O, OH, OW (of dy)
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  phaseGrid: vec2<u32>,  // rows per phase ceil(H / sh), pixel tiles per phase row ceil(ceil(W / sw) / TP)
  blocksPerGroup: u32,   // ceil(Cg / CHANNELS)
  tileCount: u32,        // N · phaseGrid.x · phaseGrid.y
}

override WG: u32 = 64;

const TP: i32 = 8;
// Input channels per invocation: the lanes of one vec4 accumulator per pixel.
const CHANNELS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let tile = (wid.x + wid.y * nwg.x) * WG + lid;
  if (tile >= params.tileCount) {
    return;
  }
  let C = params.xShape.y;
  let H = i32(params.xShape.z);
  let W = i32(params.xShape.w);
  let OH = i32(params.yShape.z);
  let OW = i32(params.yShape.w);
  let O = params.yShape.y;
  let KH = i32(params.window.x);
  let KW = i32(params.window.y);
  let Cg = params.window.z;
  let Og = params.window.w;
  let sh = params.stridePad.x;
  let sw = params.stridePad.y;

  let channel_blocks = (C / Cg) * params.blocksPerGroup;
  let phase = i32(wid.z / channel_blocks);
  let channel_block = wid.z % channel_blocks;
  let g = channel_block / params.blocksPerGroup;
  let c0 = (channel_block % params.blocksPerGroup) * CHANNELS;
  let c_last = min(c0 + CHANNELS - 1u, Cg - 1u);

  let tiles_w = params.phaseGrid.y;
  let iw_first = phase % sw + sw * i32(tile % tiles_w) * TP;
  let row = tile / tiles_w;
  let ih = phase / sw + sh * i32(row % params.phaseGrid.x);
  let n = row / params.phaseGrid.x;
  if (ih >= H) {
    return;
  }

  let taps = u32(KH * KW);
  let w_cols = vec4<u32>(c0, min(c0 + 1u, c_last), min(c0 + 2u, c_last), c_last) * taps;
  let dy_image = n * O * u32(OH * OW);
  let w_step = Cg * taps;

  var acc: array<vec4<f32>, TP>;
  for (var kh = 0; kh < KH; kh++) {
    let t = ih + params.stridePad.z - kh * params.dilation.x;
    if (t < 0 || t % sh != 0 || t / sh >= OH) {
      continue;
    }
    let dy_row = dy_image + u32((t / sh) * OW);
    for (var kw = 0; kw < KW; kw++) {
      let u = iw_first + params.stridePad.w - kw * params.dilation.y;
      // u ≡ phase (mod sw) for every lane of the workgroup: this test is uniform.
      if (((u % sw) + sw) % sw != 0) {
        continue;
      }
      let ow0 = u / sw;
      var cols: array<u32, TP>;
      var valid: array<bool, TP>;
      for (var j = 0; j < TP; j++) {
        let ow = ow0 + j;
        valid[j] = ow >= 0 && ow < OW;
        cols[j] = dy_row + u32(clamp(ow, 0, OW - 1));
      }
      var w_at = (g * Og * Cg) * taps + u32(kh * KW + kw);
      var dy_at = g * Og * u32(OH * OW);
      for (var o = 0u; o < Og; o++) {
        let wv = vec4<f32>(w[w_at + w_cols.x], w[w_at + w_cols.y], w[w_at + w_cols.z], w[w_at + w_cols.w]);
        for (var j = 0; j < TP; j++) {
          acc[j] += select(0.0, dy[dy_at + cols[j]], valid[j]) * wv;
        }
        w_at += w_step;
        dy_at += u32(OH * OW);
      }
    }
  }

  let x_row = (n * C + g * Cg) * u32(H * W) + u32(ih * W);
  for (var i = 0u; i < CHANNELS; i++) {
    let c = c0 + i;
    if (c > c_last) {
      break;
    }
    let plane = x_row + c * u32(H * W);
    for (var j = 0; j < TP; j++) {
      let iw = iw_first + j * sw;
      if (iw < W) {
        dx[plane + u32(iw)] = acc[j][i];
      }
    }
  }
}
