// conv2d's weight gradient from the gradient of its dense matrix (dense_weight.wgsl):
//   dw[o, j, kh, kw] = Σ_{oh, ow} dwd[c·H·W + ih·W + iw, o·OH·OW + oh·OW + ow]   with c = g·Cg + j,
//     j < Cg the input channel within o's group g,
//     over the output pixels whose input pixel ih = oh·sh − ph + kh·dh, iw = ow·sw − pw + kw·dw
//     lies inside the input (the others read padding and contribute nothing).
// dwd = xᵀ · dy has summed over the batch already; this sums over the output pixels, in raster order.
// Thread mapping: one invocation per (input channel j of a group, output channel o), o fastest,
// computing that pair's kH·kW taps (lanes of consecutive o read consecutive blocks of dwd's rows). As in
// dense_weight.wgsl, no division by a uniform past the invocation's set-up.
// The linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates the pairs.
// Bounds: invocations past the last pair store nothing.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW
  window: vec4<u32>,     // kH, kW, Cg, Og
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  count: u32,            // Cg·O pairs
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dwd: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let pair = (wid.x + wid.y * nwg.x) * WG + lid;
  if (pair >= params.count) {
    return;
  }
  let H = i32(params.xShape.z);
  let W = i32(params.xShape.w);
  let HW = u32(H * W);
  let O = params.yShape.y;
  let OH = params.yShape.z;
  let OW = params.yShape.w;
  let OHW = OH * OW;
  let KH = params.window.x;
  let KW = params.window.y;
  let cols = O * OHW;

  let Cg = params.window.z;
  let o = pair % O;
  let j = pair / O;
  let c = (o / params.window.w) * Cg + j;
  let origin = c * HW * cols + o * OHW;
  let taps = (o * Cg + j) * KH * KW;
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
      var sum = 0.0;
      for (var oh = 0u; oh < OH; oh++) {
        let ih = i32(oh) * params.stridePad.x - params.stridePad.z + i32(kh) * params.dilation.x;
        for (var ow = 0u; ow < OW; ow++) {
          let iw = i32(ow) * params.stridePad.y - params.stridePad.w + i32(kw) * params.dilation.y;
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
            sum += dwd[origin + u32(ih * W + iw) * cols + oh * OW + ow];
          }
        }
      }
      dw[taps + kh * KW + kw] = sum;
    }
  }
}
