// conv2d forward for 1×1 kernels without padding (any stride, any groups), a matmul over channels
// with a fused epilogue:
//   y[n, o, oh, ow] = act(bias[o] + residual[n, o, oh, ow] + Σ_{c < Cg} x[n, g·Cg + c, oh·sh, ow·sw] · w[o, c])
// where g = o / Og and act is ReLU when RELU, else the identity.
//
// Thread mapping: one invocation computes 4 output channels (a vec4 accumulator, within one group)
// × TP consecutive pixels of one image's flattened OH·OW plane (a tile may span output rows). The
// linear workgroup index (wid.x + wid.y·nwg.x) times WG plus the local index enumerates the pixel
// tiles (n, q / TP); wid.z enumerates the output-channel blocks (group-major), so the weight loads of
// a workgroup are uniform.
// Tiling: registers only. The TP input offsets (which carry the stride) are computed once; the loop
// over input channels then does TP + 4 loads for 4·TP multiply-adds and no bounds checks.
// Bounds: pixels past OH·OW are clamped to the last pixel and not stored; weight rows past the
// group's end are clamped to its last channel and not stored; tiles past the end return at once.

struct Params {
  xShape: vec4<u32>,    // N, C, H, W
  yShape: vec4<u32>,    // N, O, OH, OW
  groups: vec2<u32>,    // Cg (input channels per group), Og (output channels per group)
  stride: vec2<u32>,    // sh, sw
  tilesPerImage: u32,   // ceil(OH·OW / TP)
  blocksPerGroup: u32,  // ceil(Og / CHANNELS)
  tileCount: u32,       // N · tilesPerImage
}

override WG: u32 = 64;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

const TP: u32 = 8u;
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
  let HW = params.xShape.z * params.xShape.w;
  let O = params.yShape.y;
  let OW = params.yShape.w;
  let OHW = params.yShape.z * OW;
  let Cg = params.groups.x;
  let Og = params.groups.y;

  let n = tile / params.tilesPerImage;
  let q0 = (tile % params.tilesPerImage) * TP;
  let g = wid.z / params.blocksPerGroup;
  let o0 = g * Og + (wid.z % params.blocksPerGroup) * CHANNELS;
  let o_last = min(o0 + CHANNELS - 1u, g * Og + Og - 1u);
  let w_rows = vec4<u32>(o0, min(o0 + 1u, o_last), min(o0 + 2u, o_last), o_last) * Cg;

  var offset: array<u32, TP>;
  for (var j = 0u; j < TP; j++) {
    let q = min(q0 + j, OHW - 1u);
    offset[j] = (q / OW) * params.stride.x * params.xShape.w + (q % OW) * params.stride.y;
  }

  var acc: array<vec4<f32>, TP>;
  var plane = (n * params.xShape.y + g * Cg) * HW;
  for (var c = 0u; c < Cg; c++) {
    let wv = vec4<f32>(w[w_rows.x + c], w[w_rows.y + c], w[w_rows.z + c], w[w_rows.w + c]);
    for (var j = 0u; j < TP; j++) {
      acc[j] += x[plane + offset[j]] * wv;
    }
    plane += HW;
  }

  let y_img = n * O * OHW;
  for (var i = 0u; i < CHANNELS; i++) {
    let o = o0 + i;
    if (o > o_last) {
      break;
    }
    var b = 0.0;
    if (HAS_BIAS) {
      b = bias[o];
    }
    let plane_y = y_img + o * OHW;
    for (var j = 0u; j < TP; j++) {
      let q = q0 + j;
      if (q < OHW) {
        var v = acc[j][i] + b;
        if (HAS_RESIDUAL) {
          v += residual[plane_y + q];
        }
        if (RELU) {
          v = max(v, 0.0);
        }
        y[plane_y + q] = v;
      }
    }
  }
}
