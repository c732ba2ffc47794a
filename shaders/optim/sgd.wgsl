// sgd: one torch.optim.SGD step (PyTorch 1.13 semantics) of one parameter tensor, in place:
//   d = grad + weightDecay * param
//   with momentum (HAS_MOMENTUM):  buf = momentum * buf + gradScale * d
//                                  d = NESTEROV ? d + momentum * buf : buf
//   param = param - lr * d
// gradScale is 1 - dampening, except on a parameter's first step, where torch clones d into a new
// buffer: the host then passes 1 and a zeroed buffer, which gives exactly d (no dampening).
// lr and the other scalars are uniforms, so a learning-rate schedule never builds a new pipeline.
// Thread mapping: one invocation per vec4 of elements, 256 per workgroup, workgroups folded into y
// past 65535 (index = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: vec4 index < ceil(count / 4). Pool buffers are whole multiples of 16 bytes, so the last vec4
// exists; its lanes at or past count do not belong to the tensor and are written back unchanged.
// Without momentum, momentumBuffer is a placeholder and is never touched.

override HAS_MOMENTUM: bool = false;
override NESTEROV: bool = false;

struct Params {
  count: u32,
  lr: f32,
  weightDecay: f32,
  momentum: f32,
  gradScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> momentumBuffer: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i * 4u >= params.count) {
    return;
  }
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(params.count - i * 4u);
  let p = param[i];
  var d = grad[i];
  if (params.weightDecay != 0.0) {
    d = d + params.weightDecay * p;
  }
  if (HAS_MOMENTUM) {
    let old = momentumBuffer[i];
    let buf = params.momentum * old + params.gradScale * d;
    momentumBuffer[i] = select(old, buf, inTensor);
    d = select(buf, d + params.momentum * buf, NESTEROV);
  }
  param[i] = select(p, p - params.lr * d, inTensor);
}
