// conv2d forward as an implicit GEMM with register blocking, for any kernel size, stride, padding,
// dilation and groups, with a fused epilogue:
//   y[n, o, oh, ow] = act(bias[o] + residual[n, o, oh, ow]
//                         + Σ_{c < Cg, kh, kw} x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw] · w[o, c, kh, kw])
// where g = o / Og is the group of output channel o and act is ReLU when RELU, else the identity.
//
// Thread mapping: one invocation computes 4 output channels (one vec4 accumulator, within one group)
// × TP consecutive output pixels of one output row. The linear workgroup index (wid.x + wid.y·nwg.x)
// times WG plus the local index enumerates the pixel tiles (n, oh, ow / TP); wid.z enumerates the
// output-channel blocks (group-major). All lanes of a workgroup share the channel block, so their
// weight loads are uniform.
// Tiling: registers only (no workgroup memory: barriers cost more than they save on CPU adapters). For
// each (c, kh) the input row segment the TP pixels need for KWC taps is loaded once into `seg`, with
// its zero padding, and reused for every tap: (TP − 1)·SW + (KWC − 1)·DW + 1 loads instead of TP·KWC.
// Stride, dilation and tap-chunk width along W are override constants so that these loops unroll and
// `seg` stays in registers; kernels wider than KWC taps take several chunks.
// Bounds: rows and columns outside the input read as zero padding; weight rows of channels past the
// group's end are clamped to its last channel and their results never stored; pixels past OW and
// tiles past the end compute on clamped data and store nothing.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilationH: i32,        // dh (dw is the override DW)
  tilesPerRow: u32,      // ceil(OW / TP)
  blocksPerGroup: u32,   // ceil(Og / CHANNELS)
  tileCount: u32,        // N · OH · tilesPerRow
}

override WG: u32 = 64;
override SW: i32 = 1;
override DW: i32 = 1;
override KWC: i32 = 3;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

const TP: i32 = 8;
const SEG_MAX: i32 = 48;
// Output channels per invocation: the lanes of one vec4 accumulator.
const CHANNELS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let tile = (wid.x + wid.y * nwg.x) * WG + lid;
  if (tile >= params.tileCount) {
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

  let ow0 = i32(tile % params.tilesPerRow) * TP;
  let row = tile / params.tilesPerRow;
  let oh = row % OH;
  let n = row / OH;
  let g = wid.z / params.blocksPerGroup;
  let o0 = g * Og + (wid.z % params.blocksPerGroup) * CHANNELS;
  let o_last = min(o0 + CHANNELS - 1u, g * Og + Og - 1u);

  let taps = u32(KH * KW);
  let k_len = Cg * taps;
  // Offsets of the 4 weight rows, clamped to the group's last channel.
  let w_rows = vec4<u32>(o0, min(o0 + 1u, o_last), min(o0 + 2u, o_last), o_last) * k_len;
  let ih0 = i32(oh) * params.stridePad.x - params.stridePad.z;
  let iw0 = ow0 * SW - params.stridePad.w;

  var acc: array<vec4<f32>, TP>;
  var seg: array<f32, SEG_MAX>;
  for (var c = 0u; c < Cg; c++) {
    let plane = (n * params.xShape.y + g * Cg + c) * u32(H * W);
    let w_c = c * taps;
    for (var kh = 0; kh < KH; kh++) {
      let ih = ih0 + kh * params.dilationH;
      if (ih < 0 || ih >= H) {
        continue;
      }
      let x_row = plane + u32(ih * W);
      for (var kc = 0; kc < KW; kc += KWC) {
        let start = iw0 + kc * DW;
        for (var s = 0; s < (TP - 1) * SW + (KWC - 1) * DW + 1; s++) {
          let iw = start + s;
          seg[s] = select(0.0, x[x_row + u32(clamp(iw, 0, W - 1))], iw >= 0 && iw < W);
        }
        for (var kw = 0; kw < KWC; kw++) {
          if (kc + kw < KW) {
            let k = w_c + u32(kh * KW + kc + kw);
            let wv = vec4<f32>(w[w_rows.x + k], w[w_rows.y + k], w[w_rows.z + k], w[w_rows.w + k]);
            for (var j = 0; j < TP; j++) {
              acc[j] += seg[j * SW + kw * DW] * wv;
            }
          }
        }
      }
    }
  }

  let y_row = (n * O * OH + oh) * OW;
  for (var i = 0u; i < CHANNELS; i++) {
    let o = o0 + i;
    if (o > o_last) {
      break;
    }
    var b = 0.0;
    if (HAS_BIAS) {
      b = bias[o];
    }
    let plane = y_row + o * OH * OW;
    for (var j = 0; j < TP; j++) {
      let ow = u32(ow0 + j);
      if (ow < OW) {
        var v = acc[j][i] + b;
        if (HAS_RESIDUAL) {
          v += residual[plane + ow];
        }
        if (RELU) {
          v = max(v, 0.0);
        }
        y[plane + ow] = v;
      }
    }
  }
}
