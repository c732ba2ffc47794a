// sum_rows: out[n] = sum over i < rows of g[i * cols + n], the column sums of a [rows, cols] matrix
// (the gradient of a bias added to every row of a linear layer's output).
// Thread mapping: one invocation per column, 64 per workgroup, workgroups folded into y past 65535
// (column = (wid.x + wid.y * nwg.x) * 64 + lid). Neighbouring invocations read neighbouring words of
// each row, and each sums its column sequentially in a fixed order (deterministic; linear layers have
// few rows, so one pass per column needs no tree reduction).
// Bounds: invocations past the last column return; rows and cols come from the uniforms.

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (col >= params.cols) {
    return;
  }
  var sum = 0.0;
  for (var i = 0u; i < params.rows; i++) {
    sum += g[i * params.cols + col];
  }
  out[col] = sum;
}
