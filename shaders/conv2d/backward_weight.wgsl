// conv2d backward wrt the weight, split over the reduction (any kernel size, stride, padding,
// dilation, groups):
//   partial[s, o, c, kh, kw] = Σ_{(n, oh) in chunk s} Σ_ow dy[n, o, oh, ow] · x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]
// where g = o / Og and chunk s holds the output rows r = n·OH + oh in [s·R, s·R + R). The chunks are
// summed by reduce_chunks.wgsl (with one chunk, `partial` is the weight gradient itself).
//
// Thread mapping: one invocation computes 4 output channels × 4 input channels (of one group) at one
// tap (kh, kw) over one chunk. The linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the
// local index enumerates (group, output block, input block, tap), tap fastest, so neighbouring lanes
// read the same gradient values; wid.z is the chunk.
// Tiling: registers only, 16 accumulators; per gradient pixel 4 + 4 loads for 16 multiply-adds. The
// columns ow whose input column lies inside [0, W) are computed once per invocation, and rows whose
// input row lies outside [0, H) are skipped whole, so the inner loop has no bounds checks.
// Bounds: invocations past the last block return at once; channels past the group's end compute on
// clamped indices and store nothing.

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW (of dy)
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  blocks: vec2<u32>,     // ceil(Og / OUT_CHANNELS), ceil(Cg / IN_CHANNELS)
  blockCount: u32,       // groups · blocks.x · blocks.y · kH · kW
  chunkRows: u32,        // R
}

override WG: u32 = 64;

// Output and input channels per invocation (acc: a vec4 over the output channels per input channel).
const OUT_CHANNELS: u32 = 4u;
const IN_CHANNELS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WG + lid;
  if (index >= params.blockCount) {
    return;
  }
  let C = params.xShape.y;
  let H = i32(params.xShape.z);
  let W = i32(params.xShape.w);
  let O = params.yShape.y;
  let OH = params.yShape.z;
  let OW = i32(params.yShape.w);
  let KW = i32(params.window.y);
  let Cg = params.window.z;
  let Og = params.window.w;
  let taps = params.window.x * params.window.y;

  let tap = index % taps;
  let cb = (index / taps) % params.blocks.y;
  let ob = (index / taps / params.blocks.y) % params.blocks.x;
  let g = index / taps / params.blocks.y / params.blocks.x;
  let kh = i32(tap) / KW;
  let kw = i32(tap) % KW;
  let o0 = g * Og + ob * OUT_CHANNELS;
  let o_last = min(o0 + OUT_CHANNELS - 1u, g * Og + Og - 1u);
  let c0 = cb * IN_CHANNELS;
  let c_last = min(c0 + IN_CHANNELS - 1u, Cg - 1u);

  let HW = u32(H * W);
  let OHW = OH * u32(OW);
  let dy_planes = vec4<u32>(o0, min(o0 + 1u, o_last), min(o0 + 2u, o_last), o_last) * OHW;
  let x_planes = (g * Cg + vec4<u32>(c0, min(c0 + 1u, c_last), min(c0 + 2u, c_last), c_last)) * HW;

  let sh = params.stridePad.x;
  let sw = params.stridePad.y;
  // Columns ow with 0 <= ow·sw + shift < W.
  let shift = kw * params.dilation.y - params.stridePad.w;
  let ow_lo = select(0, (-shift + sw - 1) / sw, shift < 0);
  let ow_hi = min(OW, select(0, (W - 1 - shift) / sw + 1, shift < W));

  var acc: array<vec4<f32>, IN_CHANNELS>;
  let r_begin = wid.z * params.chunkRows;
  let r_end = min(r_begin + params.chunkRows, params.yShape.x * OH);
  for (var r = r_begin; r < r_end; r++) {
    let oh = r % OH;
    let n = r / OH;
    let ih = i32(oh) * sh - params.stridePad.z + kh * params.dilation.x;
    if (ih < 0 || ih >= H) {
      continue;
    }
    let dy_row = n * O * OHW + oh * u32(OW);
    let x_row = n * C * HW + u32(ih * W + shift);
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      let d = dy_row + u32(ow);
      let dv = vec4<f32>(dy[dy_planes.x + d], dy[dy_planes.y + d], dy[dy_planes.z + d], dy[dy_planes.w + d]);
      let xi = x_row + u32(ow * sw);
      acc[0] += x[x_planes.x + xi] * dv;
      acc[1] += x[x_planes.y + xi] * dv;
      acc[2] += x[x_planes.z + xi] * dv;
      acc[3] += x[x_planes.w + xi] * dv;
    }
  }

  let size = O * Cg * taps;
  let base = wid.z * size + tap;
  for (var i = 0u; i < IN_CHANNELS; i++) {
    let c = c0 + i;
    if (c > c_last) {
      break;
    }
    for (var k = 0u; k < OUT_CHANNELS; k++) {
      let o = o0 + k;
      if (o <= o_last) {
        partial[base + (o * Cg + c) * taps] = acc[i][k];
      }
    }
  }
}
