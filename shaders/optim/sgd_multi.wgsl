// sgd_multi: one torch.optim.SGD step (PyTorch 1.13 semantics) of many parameter tensors at once, in
// place, for parameters packed into one buffer (packTensors) with their gradients and momentum buffers
// in buffers of the same layout: the update of sgd.wgsl, element for element the same arithmetic:
//   d = grad + weightDecay * param
//   with momentum (HAS_MOMENTUM):  buf = momentum * buf + gradScale * d   (buf read as 0 on a first step)
//                                  d = NESTEROV ? d + momentum * buf : buf
//   param = param - lr * d
// The hyper-parameters of one parameter group are uniforms; what differs per tensor comes from the
// segment table: entry w = (first vec4, elements from there to the tensor's end, gradScale's bits,
// first step) for workgroup w. gradScale is 1 - dampening, or 1 on a parameter's first step, where torch
// clones d into a new buffer: the old buffer's contents (zero, or stale after a load) then count as 0
// through momentum * 0, which is what sgd.wgsl computes from a zeroed buffer.
// Thread mapping: one workgroup per table entry (at most 256 vec4s of one tensor), one invocation per
// vec4; workgroups folded into y past 65535 (entry = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: entries >= entryCount return; lanes at or past the tensor's end (its padding up to the next
// aligned tensor, always at least to a whole vec4) are written back unchanged. Tensors without a
// gradient have no entries and are not touched. Without momentum, momentumBuffer is a placeholder.

override HAS_MOMENTUM: bool = false;
override NESTEROV: bool = false;

struct Params {
  entryCount: u32,
  lr: f32,
  weightDecay: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> segments: array<vec4u>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> momentumBuffer: array<vec4f>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let entry = wid.x + wid.y * nwg.x;
  if (entry >= params.entryCount) {
    return;
  }
  let segment = segments[entry];
  if (lid * 4u >= segment.y) {
    return;
  }
  let i = segment.x + lid;
  let gradScale = bitcast<f32>(segment.z);
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(segment.y - lid * 4u);
  let p = param[i];
  var d = grad[i];
  if (params.weightDecay != 0.0) {
    d = d + params.weightDecay * p;
  }
  if (HAS_MOMENTUM) {
    let old = momentumBuffer[i];
    let buf = params.momentum * select(old, vec4f(), segment.w != 0u) + gradScale * d;
    momentumBuffer[i] = select(old, buf, inTensor);
    d = select(buf, d + params.momentum * buf, NESTEROV);
  }
  param[i] = select(p, p - params.lr * d, inTensor);
}
