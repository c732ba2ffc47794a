// Folds an inference-mode BatchNorm into the preceding convolution:
//   scale[o] = gamma[o] / sqrt(runningVar[o] + eps)
//   wOut[o, k] = w[o, k] · scale[o]                             for k < kLen (= Cg·kH·kW)
//   bOut[o] = (bias[o] − runningMean[o]) · scale[o] + beta[o]   (bias[o] = 0 without HAS_BIAS)
// Thread mapping: invocation i (linear index (wid.x + wid.y·nwg.x)·WG + local index) writes wOut[i]
// and, for i < O, also bOut[i]. No workgroup memory.
// Bounds: i < O·kLen for the weight, i < O for the bias.

struct Params {
  channels: u32,  // O
  kLen: u32,      // Cg · kH · kW
  eps: f32,
}

override WG: u32 = 64;
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read> runningVar: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> beta: array<f32>;
@group(0) @binding(7) var<storage, read_write> wOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> bOut: array<f32>;

fn scale(o: u32) -> f32 {
  return gamma[o] / sqrt(runningVar[o] + params.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i < params.channels * params.kLen) {
    wOut[i] = w[i] * scale(i / params.kLen);
  }
  if (i < params.channels) {
    var b = 0.0;
    if (HAS_BIAS) {
      b = bias[i];
    }
    bOut[i] = (b - runningMean[i]) * scale(i) + beta[i];
  }
}
