// nonfinite: sets flag to 1 when a gradient tensor holds a NaN or an infinity (the NaN guard's test).
// The test is on the bits (exponent all ones), which holds even where the compiler assumes finite math.
// Thread mapping: one invocation per vec4 of elements, 256 per workgroup, workgroups folded into y
// past 65535 (index = wid.x + wid.y * nwg.x). Invocations that find one do an atomicOr; the flag is
// cleared by the host. No workgroup memory.
// Bounds: vec4 index < ceil(count / 4); lanes of the last vec4 at or past count are ignored.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> flag: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i * 4u >= params.count) {
    return;
  }
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(params.count - i * 4u);
  let exponent = bitcast<vec4u>(grad[i]) & vec4u(0x7f800000u);
  if (any((exponent == vec4u(0x7f800000u)) & inTensor)) {
    atomicOr(&flag, 1u);
  }
}
