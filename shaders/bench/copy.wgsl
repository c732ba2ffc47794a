// copy: dst[i] = src[i] for i < count, over vec4<f32> elements. The benchmark's bandwidth probe: the
// fastest a compute shader moves memory on this adapter (one read and one write per element), against
// which the bandwidth of the memory-bound kernels is read.
// Thread mapping: one invocation per vec4 (consecutive invocations touch consecutive 16-byte words, which
// a CPU adapter turns into contiguous SIMD loads); 256 invocations per workgroup, workgroups folded into
// y past 65535 (index = wid.x + wid.y * nwg.x). No tiling: nothing is reused.
// Bounds: every element checked against count (the buffers are pooled and may be longer).

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < params.count) {
    dst[i] = src[i];
  }
}
