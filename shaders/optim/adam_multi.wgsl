// adam_multi: one torch.optim.Adam / AdamW step (PyTorch 1.13 semantics) of many parameter tensors at
// once, in place, for parameters packed into one buffer (packTensors) with their gradients and moments
// in buffers of the same layout: the update of adam.wgsl, element for element the same arithmetic:
//   g = grad + weightDecay * param          (Adam's L2 term; the host passes 0 for AdamW)
//   param = paramScale * param              (AdamW's decoupled decay 1 - lr * weightDecay; 1 for Adam)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                     (AMSGRAD only; the denominator then uses vmax)
//   param = param - stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps)
// The hyper-parameters of one parameter group are uniforms; what differs per tensor comes from the
// segment table, two vec4s per entry (one entry per workgroup):
//   segments[2e]     = (first vec4, elements from there to the tensor's end, stepSize bits, biasCorrection2Sqrt bits)
//   segments[2e + 1] = (first step, maxExpAvgSq new this step, 0, 0)
// stepSize = lr / (1 - beta1^step) and biasCorrection2Sqrt = sqrt(1 - beta2^step) come from the
// tensor's own step count, computed on the host in float64 and rounded to f32 as adam.wgsl's uniforms
// are. On a tensor's first step its moments are read as 0 (torch makes them zeroed; the packed ranges
// may hold anything), which is what adam.wgsl computes from zeroed buffers; likewise maxExpAvgSq on
// the step that makes it (the first, or the first with AMSGrad on).
// Thread mapping: one workgroup per table entry (at most 256 vec4s of one tensor), one invocation per
// vec4; workgroups folded into y past 65535 (entry = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: entries >= entryCount return; lanes at or past the tensor's end (its padding up to the next
// aligned tensor, always at least to a whole vec4) are written back unchanged. Tensors without a
// gradient have no entries and are not touched. Without AMSGRAD, maxExpAvgSq is a placeholder.

override AMSGRAD: bool = false;

struct Params {
  entryCount: u32,
  weightDecay: f32,
  paramScale: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> segments: array<vec4u>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> expAvg: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> expAvgSq: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> maxExpAvgSq: array<vec4f>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let entry = wid.x + wid.y * nwg.x;
  if (entry >= params.entryCount) {
    return;
  }
  let segment = segments[2u * entry];
  if (lid * 4u >= segment.y) {
    return;
  }
  let fresh = segments[2u * entry + 1u];
  let first = fresh.x != 0u;
  let stepSize = bitcast<f32>(segment.z);
  let biasCorrection2Sqrt = bitcast<f32>(segment.w);
  let i = segment.x + lid;
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(segment.y - lid * 4u);
  let p0 = param[i];
  var g = grad[i];
  // Skipped when zero, as torch does, so that an infinite parameter does not turn g into NaN.
  if (params.weightDecay != 0.0) {
    g = g + params.weightDecay * p0;
  }
  let p = params.paramScale * p0;
  let m0 = expAvg[i];
  let v0 = expAvgSq[i];
  let m = params.beta1 * select(m0, vec4f(), first) + params.oneMinusBeta1 * g;
  let v = params.beta2 * select(v0, vec4f(), first) + (params.oneMinusBeta2 * g) * g;
  expAvg[i] = select(m0, m, inTensor);
  expAvgSq[i] = select(v0, v, inTensor);
  var vHat = v;
  if (AMSGRAD) {
    let vMax0 = maxExpAvgSq[i];
    vHat = max(select(vMax0, vec4f(), fresh.y != 0u), v);
    maxExpAvgSq[i] = select(vMax0, vHat, inTensor);
  }
  let denom = sqrt(vHat) / biasCorrection2Sqrt + params.eps;
  param[i] = select(p0, p + (-stepSize * m) / denom, inTensor);
}
