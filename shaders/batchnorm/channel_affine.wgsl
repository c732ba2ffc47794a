// Batch norm's elementwise passes over [N, C, H, W], as a per-channel affine map whose coefficients
// t = table[c] (a vec4 per channel) were computed once per channel by the statistics or sums kernel:
//   MODE_NORMALIZE:  out = (a - t.x) * t.y + t.z            y from x: t = (mean, invstd * weight, bias, invstd)
//   MODE_SCALE:      out = a * t.y                          dx from dy with constant statistics (same table)
//   MODE_GRADIENT:   out = (a - t.x) * t.y + (b - t.z) * t.w
//                    dx from dy (a) and x (b) with batch statistics: t = (mean(dy), weight * invstd, mean,
//                    -weight * invstd^2 * mean(dy * xhat)), which is weight * invstd * (dy - mean(dy) - xhat *
//                    mean(dy * xhat)) with xhat = (x - mean) * invstd.
// Epilogue of MODE_NORMALIZE (a ResNet block's "bn, + identity, relu" in one pass): ADD_B adds b (the
// residual) and RELU then maps negative values to 0 (NaN passes, as in PyTorch).
// MASK (MODE_SCALE and MODE_GRADIENT, the backward of a batch norm followed by a ReLU): a is first
// masked by the ReLU, a = select(0, a, m > 0) lane by lane with m the forward output, as relu backward
// does, so that the masked gradient is never stored. Without MASK the host binds `a` as m, unread.
// Thread mapping: flat over the tensor in vec4s, whatever the plane size: PCNN's planes are as small as 1x2,
// where one workgroup per plane would leave most invocations idle. Each invocation does VEC4S vec4s, WG
// vec4s apart (consecutive invocations touch consecutive vec4s), so its channel and position in the plane
// are found by division once, then stepped by (STRIDE / planeSize, STRIDE % planeSize) per vec4 without
// dividing. ALIGNED (planeSize % 4 == 0): the 4 lanes of a vec4 share one channel and one table load;
// otherwise each lane steps its own channel. No workgroup memory.
// Bounds: vec4 index < ceil(count / 4); workgroups folded into y past 65535 (index wid.x + wid.y * nwg.x).
// Pool buffers are whole multiples of 16 bytes, so a last partial vec4 exists in every buffer: its lanes
// past count are computed from padding and land in out's padding, outside the tensor. `b` is only read in
// MODE_GRADIENT and with ADD_B (the host binds `a` there otherwise).

const MODE_NORMALIZE = 0u;
const MODE_SCALE = 1u;
const MODE_GRADIENT = 2u;
override MODE: u32;
override ALIGNED: bool;
override ADD_B: bool = false;
override RELU: bool = false;
override MASK: bool = false;

struct Params {
  count: u32,
  planeSize: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read> table: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(5) var<storage, read> m: array<vec4f>;

const WG = 256u;
const VEC4S = 4u;
const VEC4S_PER_WORKGROUP = WG * VEC4S;
// Elements between one invocation's consecutive vec4s.
const STRIDE = WG * 4u;

fn affine(a: f32, b: f32, t: vec4f) -> f32 {
  switch MODE {
    case MODE_NORMALIZE: { return (a - t.x) * t.y + t.z; }
    case MODE_SCALE: { return a * t.y; }
    default: { return (a - t.x) * t.y + (b - t.z) * t.w; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let count4 = (params.count + 3u) / 4u;
  let first = (wid.x + wid.y * nwg.x) * VEC4S_PER_WORKGROUP + lid;
  if (first >= count4) {
    return;
  }
  let planeSize = params.planeSize;
  let channels = params.channels;
  let plane = first * 4u / planeSize;
  var hw = first * 4u - plane * planeSize;
  var c = plane % channels;
  // hw < planeSize and c < channels hold after every step: each adds less than one plane or one C.
  let stepHw = STRIDE % planeSize;
  let stepC = (STRIDE / planeSize) % channels;
  for (var k = 0u; k < VEC4S; k++) {
    let i = first + k * WG;
    if (i >= count4) {
      break;
    }
    var av = a[i];
    if (MASK) {
      av = select(vec4f(), av, m[i] > vec4f());
    }
    var bv = vec4f();
    if (MODE == MODE_GRADIENT || ADD_B) {
      bv = b[i];
    }
    var r: vec4f;
    if (ALIGNED) {
      let t = table[c];
      for (var l = 0u; l < 4u; l++) {
        r[l] = affine(av[l], bv[l], t);
      }
    } else {
      var lc = c;
      var lhw = hw;
      for (var l = 0u; l < 4u; l++) {
        r[l] = affine(av[l], bv[l], table[lc]);
        lhw++;
        if (lhw == planeSize) {
          lhw = 0u;
          lc++;
          if (lc == channels) {
            lc = 0u;
          }
        }
      }
    }
    if (ADD_B) {
      r += bv;
    }
    if (RELU) {
      r = select(r, vec4f(), r < vec4f());
    }
    out[i] = r;
    hw += stepHw;
    c += stepC;
    if (hw >= planeSize) {
      hw -= planeSize;
      c++;
    }
    if (c >= channels) {
      c -= channels;
    }
  }
}
