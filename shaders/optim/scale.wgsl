// scale: grad[i] = grad[i] * coef[0] in place (the clip_grad_norm_ rescale; the coefficient stays on
// the GPU, so clipping never waits for a readback).
// Thread mapping: one invocation per vec4 of elements, 256 per workgroup, workgroups folded into y
// past 65535 (index = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: vec4 index < ceil(count / 4); lanes of the last vec4 at or past count are written back
// unchanged (pool buffers are whole multiples of 16 bytes, so that vec4 exists).

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> coef: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i * 4u >= params.count) {
    return;
  }
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(params.count - i * 4u);
  let g = grad[i];
  grad[i] = select(g, g * coef[0], inTensor);
}
