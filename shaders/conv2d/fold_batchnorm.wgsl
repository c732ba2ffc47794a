// Folds an inference-mode BatchNorm into the preceding convolution:
//   scale[o] = gamma[o] / sqrt(running_var[o] + eps)
//   w_out[o, k] = w[o, k] · scale[o]                              for k < k_len (= Cg·kH·kW)
//   b_out[o] = (bias[o] − running_mean[o]) · scale[o] + beta[o]   (bias[o] = 0 without HAS_BIAS)
// Thread mapping: invocation i (linear index (wid.x + wid.y·nwg.x)·WG + local index) writes w_out[i]
// and, for i < O, also b_out[i]. No workgroup memory.
// Bounds: i < O·k_len for the weight, i < O for the bias.

struct Params {
  channels: u32,  // O
  k_len: u32,     // Cg · kH · kW
  eps: f32,
}

override WG: u32 = 64;
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read> running_var: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> beta: array<f32>;
@group(0) @binding(7) var<storage, read_write> w_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> b_out: array<f32>;

fn scale(o: u32) -> f32 {
  return gamma[o] / sqrt(running_var[o] + params.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i < params.channels * params.k_len) {
    w_out[i] = w[i] * scale(i / params.k_len);
  }
  if (i < params.channels) {
    var b = 0.0;
    if (HAS_BIAS) {
      b = bias[i];
    }
    b_out[i] = (b - running_mean[i]) * scale(i) + beta[i];
  }
}
