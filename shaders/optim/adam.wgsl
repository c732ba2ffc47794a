// adam: one torch.optim.Adam / AdamW step (PyTorch 1.13 semantics) of one parameter tensor, in place:
//   g = grad + weightDecay * param          (Adam's L2 term; the host passes 0 for AdamW)
//   param = paramScale * param              (AdamW's decoupled decay 1 - lr * weightDecay; 1 for Adam)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                     (AMSGRAD only; the denominator then uses vmax)
//   param = param - stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps)
// stepSize = lr / (1 - beta1^step) and biasCorrection2Sqrt = sqrt(1 - beta2^step) depend on the
// parameter's own step count and are computed on the host in float64, like torch's Python scalars; all
// step-dependent scalars are uniforms, so neither the schedule nor the step count builds a new pipeline.
// Operations follow torch's order (addcmul: (s * a) * b, addcdiv: (s * a) / b).
// Thread mapping: one invocation per vec4 of elements, 256 per workgroup, workgroups folded into y
// past 65535 (index = wid.x + wid.y * nwg.x). No workgroup memory.
// Bounds: vec4 index < ceil(count / 4). Pool buffers are whole multiples of 16 bytes, so the last vec4
// exists; its lanes at or past count do not belong to the tensor and are written back unchanged.
// Without AMSGRAD, maxExpAvgSq is a placeholder and is never touched.

override AMSGRAD: bool = false;

struct Params {
  count: u32,
  weightDecay: f32,
  paramScale: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  stepSize: f32,
  biasCorrection2Sqrt: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> expAvg: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> expAvgSq: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> maxExpAvgSq: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i * 4u >= params.count) {
    return;
  }
  let inTensor = vec4u(0u, 1u, 2u, 3u) < vec4u(params.count - i * 4u);
  let p0 = param[i];
  var g = grad[i];
  // Skipped when zero, as torch does, so that an infinite parameter does not turn g into NaN.
  if (params.weightDecay != 0.0) {
    g = g + params.weightDecay * p0;
  }
  let p = params.paramScale * p0;
  let m0 = expAvg[i];
  let v0 = expAvgSq[i];
  let m = params.beta1 * m0 + params.oneMinusBeta1 * g;
  let v = params.beta2 * v0 + (params.oneMinusBeta2 * g) * g;
  expAvg[i] = select(m0, m, inTensor);
  expAvgSq[i] = select(v0, v, inTensor);
  var vHat = v;
  if (AMSGRAD) {
    let vMax0 = maxExpAvgSq[i];
    vHat = max(vMax0, v);
    maxExpAvgSq[i] = select(vMax0, vHat, inTensor);
  }
  let denom = sqrt(vHat) / params.biasCorrection2Sqrt + params.eps;
  param[i] = select(p0, p + (-params.stepSize * m) / denom, inTensor);
}
