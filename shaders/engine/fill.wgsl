// fill: out[i] = word for i < count. The word is the value's 32-bit pattern in the tensor's dtype
// (float32 or int32), encoded by the host, so one kernel fills either dtype bit for bit.
// Thread mapping: one invocation per 4 consecutive elements (vec4-friendly stores); 256 per workgroup,
// workgroups folded into y past 65535 (index = wid.x + wid.y * nwg.x).
// Bounds: every store checked against count.

struct Params {
  count: u32,
  word: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

const WG = 256u;
const ELEMENTS_PER_INVOCATION = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = ((wid.x + wid.y * nwg.x) * WG + lid) * ELEMENTS_PER_INVOCATION;
  for (var k = 0u; k < ELEMENTS_PER_INVOCATION; k++) {
    if (base + k < params.count) {
      out[base + k] = params.word;
    }
  }
}
