// conv2d backward wrt the weight as a GEMM over flattened rows, split over the reduction, for small
// feature maps (any kernel size, stride, padding, dilation, groups):
//   partial[s, o, c, kh, kw] = Σ_{m in chunk s} dy[n, o, oh, ow] · x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]
// with m = (n·OH + oh)·OW + ow running over all output pixels of all images (so that 1-pixel-wide maps
// cost no more per term than wide ones), g = o / Og, and chunk s holding m in [s·R, s·R + R): the
// product dyᵀ · im2col(x). reduce_chunks.wgsl sums the chunks (with one chunk, `partial` is the
// weight gradient itself).
//
// Thread mapping: one invocation computes COLS output channels × 4 input channels at one tap. The
// linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates
// (input-channel block, tap), tap fastest; wid.z enumerates (chunk, group, output block), chunk
// slowest. All lanes of a workgroup share the output block and walk the same m, so the COLS = 16
// gradient values of a step are the same for every lane: lane l of a subgroup loads those of channels
// o0 + l mod 8 and o0 + 8 + l mod 8 and subgroupBroadcast shares them (lavapipe loads even a uniform
// address once per lane; the host needs subgroups of at least 8 lanes). With the 4 input values per
// m, that is 6 loads for 4·COLS multiply-adds.
// TAP_LANES (where Cg < 4, e.g. a 1-channel stem, whose invocations would otherwise fill one of their 4
// channel lanes): the 4 lanes are instead 4 consecutive (input channel, tap) columns q = c·taps + tap
// of the group, each with its own input position; blocks.y is then ceil(Cg·taps / 4), the column quads.
// The terms and their order are those of the channel-lane form.
// Tiling: registers only, no barriers, no early return (the broadcasts run in uniform control flow).
// Each m's input position and its validity are computed once and shared by the 4 channels.
// Bounds: input positions outside the input read as zero (clamped address, select); lanes past the
// last (block, tap) compute on a clamped one and store nothing; channels past the group's end are
// clamped and never stored.

enable subgroups;

struct Params {
  xShape: vec4<u32>,     // N, C, H, W
  yShape: vec4<u32>,     // N, O, OH, OW (of dy)
  window: vec4<u32>,     // kH, kW, Cg (input channels per group), Og (output channels per group)
  stridePad: vec4<i32>,  // sh, sw, ph, pw
  dilation: vec2<i32>,   // dh, dw
  blocks: vec2<u32>,     // ceil(Og / COLS), ceil(Cg / IN_CHANNELS) (TAP_LANES: ceil(Cg·taps / 4))
  chunkRows: u32,        // R
}

override WG: u32 = 64;
override TAP_LANES: bool = false;

// Lanes that share one load (the width of shared8 below).
const SHARED: u32 = 8u;
const COLS: u32 = 2u * SHARED;
// Input channels per invocation: the lanes of the vec4 accumulators.
const IN_CHANNELS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

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
  let KW = params.window.y;
  let Cg = params.window.z;
  let Og = params.window.w;
  let taps = params.window.x * KW;
  let HW = H * W;
  let OHW = OH * OW;

  let lanes = select(params.blocks.y * taps, params.blocks.y, TAP_LANES);
  let index = min((wid.x + wid.y * nwg.x) * WG + lid, lanes - 1u);
  let tap = index % taps;
  let c0 = (index / taps) * IN_CHANNELS;
  let c_last = min(c0 + IN_CHANNELS - 1u, Cg - 1u);
  // TAP_LANES: lane i takes column q = 4·index + i (clamped to the last), channel q / taps, tap q % taps.
  let q_last = Cg * taps - 1u;
  let q = min(vec4<u32>(4u * index) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(q_last));
  let q_tap = q % vec4<u32>(taps);
  let output_blocks = (C / Cg) * params.blocks.x;
  let chunk = wid.z / output_blocks;
  let g = (wid.z % output_blocks) / params.blocks.x;
  let o0 = g * Og + (wid.z % params.blocks.x) * COLS;
  let o_last = min(o0 + COLS - 1u, g * Og + Og - 1u);

  let dy_lo = min(o0 + lane % SHARED, o_last) * OHW;
  let dy_hi = min(o0 + SHARED + lane % SHARED, o_last) * OHW;
  let x_planes = select((g * Cg + vec4<u32>(c0, min(c0 + 1u, c_last), min(c0 + 2u, c_last), c_last)) * HW,
                        (g * Cg + q / vec4<u32>(taps)) * HW, TAP_LANES);
  // Input position of output pixel (oh, ow) at this tap: (oh·sh + dh0, ow·sw + dw0); per lane with TAP_LANES.
  let dh0 = i32(tap / KW) * params.dilation.x - params.stridePad.z;
  let dw0 = i32(tap % KW) * params.dilation.y - params.stridePad.w;
  let dh0s = vec4<i32>(q_tap / vec4<u32>(KW)) * params.dilation.x - params.stridePad.z;
  let dw0s = vec4<i32>(q_tap % vec4<u32>(KW)) * params.dilation.y - params.stridePad.w;

  let m_begin = chunk * params.chunkRows;
  let m_end = min(m_begin + params.chunkRows, params.yShape.x * OHW);
  var n = m_begin / OHW;
  var oh = (m_begin % OHW) / OW;
  var ow = m_begin % OW;
  var acc: array<vec4<f32>, COLS>;
  for (var m = m_begin; m < m_end; m++) {
    var xv: vec4<f32>;
    if (TAP_LANES) {
      let ih = vec4<i32>(i32(oh) * params.stridePad.x) + dh0s;
      let iw = vec4<i32>(i32(ow) * params.stridePad.y) + dw0s;
      let ok = (ih >= vec4<i32>(0)) & (ih < vec4<i32>(i32(H))) & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(i32(W)));
      let at = vec4<u32>(n * C * HW) + x_planes + select(vec4<u32>(0u), vec4<u32>(ih) * W + vec4<u32>(iw), ok);
      xv = select(vec4<f32>(0.0), vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
    } else {
      let ih = i32(oh) * params.stridePad.x + dh0;
      let iw = i32(ow) * params.stridePad.y + dw0;
      let ok = ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W);
      let at = n * C * HW + select(0u, u32(ih) * W + u32(iw), ok);
      xv = select(vec4<f32>(0.0),
                  vec4<f32>(x[x_planes.x + at], x[x_planes.y + at], x[x_planes.z + at], x[x_planes.w + at]), ok);
    }
    let dy_at = n * O * OHW + oh * OW + ow;
    let lo = shared8(dy[dy_lo + dy_at]);
    let hi = shared8(dy[dy_hi + dy_at]);
    for (var j = 0u; j < SHARED; j++) {
      acc[j] = fma(vec4<f32>(lo[j]), xv, acc[j]);
      acc[j + SHARED] = fma(vec4<f32>(hi[j]), xv, acc[j + SHARED]);
    }
    ow++;
    if (ow == OW) {
      ow = 0u;
      oh++;
      if (oh == OH) {
        oh = 0u;
        n++;
      }
    }
  }

  if ((wid.x + wid.y * nwg.x) * WG + lid >= lanes) {
    return;
  }
  let base = chunk * O * Cg * taps;
  for (var j = 0u; j < COLS; j++) {
    let o = o0 + j;
    if (o > o_last) {
      break;
    }
    for (var i = 0u; i < IN_CHANNELS; i++) {
      if (TAP_LANES) {
        // Column q = c·taps + tap is the weight's (c, kh, kw) offset within output channel o.
        if (4u * index + i <= q_last) {
          partial[base + o * Cg * taps + 4u * index + i] = acc[j][i];
        }
      } else {
        let c = c0 + i;
        if (c <= c_last) {
          partial[base + (o * Cg + c) * taps + tap] = acc[j][i];
        }
      }
    }
  }
}
