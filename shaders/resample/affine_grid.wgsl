// Affine sampling grids, as PyTorch's affine_grid (2-D), and the gradient wrt theta.
//
// forward:  result[n, h, w, :] = theta[n] @ (x_w, y_h, 1), where x_w and y_h are the normalised
//           pixel centres of linspace_from_neg_one (source = theta [N, 2, 3], result = grid [N, H, W, 2]).
//           One invocation per grid point (n, h, w), 256 per workgroup, folded into y past 65535.
// backward: result[n, r, :] = sum over (h, w) of dgrid[n, h, w, r] * (x_w, y_h, 1)
//           (source = dgrid [N, H, W, 2], result = dtheta [N, 2, 3]). One invocation per (n, r) runs the
//           whole sum serially: the grids here are feature-map sized (PCNN: up to 14x14), where a
//           serial loop is cheap, needs no workgroup memory or barriers, and sums in a fixed order. Rows are summed first and scaled by y_h once per row. 64 per workgroup,
//           folded into y past 65535.
// Tiling: none. Bounds: invocation indices are checked against N * H * W (forward) and 2 * N (backward).

struct Params {
  batch: u32,
  height: u32,
  width: u32,
  alignCorners: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

// Normalised centre of pixel i of `steps`: torch.linspace(-1, 1, steps) (which fills its first half
// from -1 and its second half from 1), scaled by (steps - 1) / steps without aligned corners; 0 for one
// pixel.
fn baseCoordinate(i: u32, steps: u32) -> f32 {
  if (steps <= 1u) {
    return 0.0;
  }
  let step = 2.0 / f32(steps - 1u);
  let v = select(-1.0 + f32(i) * step, 1.0 - f32(steps - 1u - i) * step, i >= steps / 2u);
  if (params.alignCorners != 0u) {
    return v;
  }
  return v * f32(steps - 1u) / f32(steps);
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (index >= params.batch * params.height * params.width) {
    return;
  }
  let w = index % params.width;
  let h = (index / params.width) % params.height;
  let t = (index / (params.width * params.height)) * 6u;
  let x = baseCoordinate(w, params.width);
  let y = baseCoordinate(h, params.height);
  result[2u * index] = source[t] * x + source[t + 1u] * y + source[t + 2u];
  result[2u * index + 1u] = source[t + 3u] * x + source[t + 4u] * y + source[t + 5u];
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (index >= 2u * params.batch) {
    return;
  }
  let n = index / 2u;
  let r = index % 2u;
  var sumX = 0.0;
  var sumY = 0.0;
  var sumOne = 0.0;
  for (var h = 0u; h < params.height; h++) {
    var rowX = 0.0;
    var rowOne = 0.0;
    for (var w = 0u; w < params.width; w++) {
      let g = source[((n * params.height + h) * params.width + w) * 2u + r];
      rowX += g * baseCoordinate(w, params.width);
      rowOne += g;
    }
    sumX += rowX;
    sumY += rowOne * baseCoordinate(h, params.height);
    sumOne += rowOne;
  }
  result[index * 3u] = sumX;
  result[index * 3u + 1u] = sumY;
  result[index * 3u + 2u] = sumOne;
}
