// conv2d's weight as one dense matrix over the whole map (the `dense` variant):
//   wd[c·H·W + ih·W + iw, o·OH·OW + oh·OW + ow] = w[o, c − g·Cg, kh, kw]
//     where ih = oh·sh − ph + kh·dh and iw = ow·sw − pw + kw·dw, when c is in o's group g;
//   and 0 where no tap links input pixel (ih, iw) to output pixel (oh, ow), or c is in another group
//   (with groups, wd is block-diagonal);
// so that, with x seen as [N, C·H·W] and y as [N, O·OH·OW], y = x · wd; or, when TRANSPOSED, wdᵀ
// [O·OH·OW, C·H·W], so that dx = dy · wdᵀ is a product of untransposed operands (which the matmul
// kernel reads faster than a transposed one).
// Thread mapping: one invocation per (input channel c, output channel o), the one along the stored
// rows fastest, writing that pair's H·W × OH·OW block: zeros first, then each output pixel's taps
// that land inside the input (a pixel pair is linked by one tap at most). All index arithmetic is
// per invocation or a multiply and add per entry: lavapipe divides by a uniform lane by lane, which
// per entry made this kernel 5x slower.
// The linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates the pairs.
// Bounds: invocations past the last pair store nothing.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW
  window: vec4<u32>,     // kH, kW, Cg, Og
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  count: u32,            // C·O pairs
}

override WG: u32 = 64;
override TRANSPOSED: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wd: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let pair = (wid.x + wid.y * nwg.x) * WG + lid;
  if (pair >= params.count) {
    return;
  }
  let C = params.xShape.y;
  let H = i32(params.xShape.z);
  let W = i32(params.xShape.w);
  let HW = u32(H * W);
  let O = params.yShape.y;
  let OH = params.yShape.z;
  let OW = params.yShape.w;
  let OHW = OH * OW;
  let KH = params.window.x;
  let KW = params.window.y;
  // Entry (input pixel q, output pixel p) of the pair's block is wd[origin + q·strideQ + p·strideP].
  let strideQ = select(O * OHW, 1u, TRANSPOSED);
  let strideP = select(1u, C * HW, TRANSPOSED);

  let fast = pair % select(O, C, TRANSPOSED);
  let slow = pair / select(O, C, TRANSPOSED);
  let o = select(fast, slow, TRANSPOSED);
  let c = select(slow, fast, TRANSPOSED);
  let origin = c * HW * strideQ + o * OHW * strideP;
  for (var q = 0u; q < HW; q++) {
    for (var p = 0u; p < OHW; p++) {
      wd[origin + q * strideQ + p * strideP] = 0.0;
    }
  }
  let group = o / params.window.w;
  if (c / params.window.z != group) {
    return;
  }
  let taps = (o * params.window.z + c - group * params.window.z) * KH * KW;
  for (var oh = 0u; oh < OH; oh++) {
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh) * params.stridePad.x - params.stridePad.z + i32(kh) * params.dilation.x;
      for (var ow = 0u; ow < OW; ow++) {
        for (var kw = 0u; kw < KW; kw++) {
          let iw = i32(ow) * params.stridePad.y - params.stridePad.w + i32(kw) * params.dilation.y;
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
            wd[origin + u32(ih * W + iw) * strideQ + (oh * OW + ow) * strideP] = w[taps + kh * KW + kw];
          }
        }
      }
    }
  }
}
