// Gradient of grid_sample (bilinear, 'zeros' or 'border') wrt the grid: for grid point (n, ho, wo),
//   dgrid.x = dx/dgx * sum_c dy[n, c, ho, wo] * ((ne - nw)(1 - fy) + (se - sw) fy)
//   dgrid.y = dy/dgy * sum_c dy[n, c, ho, wo] * ((sw - nw)(1 - fx) + (se - ne) fx)
// with nw, ne, sw, se the neighbours' values (0 outside the plane) and dx/dgx, dy/dgy the
// unnormalisation (and clamp) derivatives.
// Thread mapping: one invocation per grid point, summing over channels serially (each invocation
// writes only its own two values: no races); 64 per workgroup, folded into y past 65535 workgroups.
// Tiling: none. Bounds: the point index is checked against N * Ho * Wo; reads of x are guarded by inside().

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> grid: array<f32>;
@group(0) @binding(3) var<storage, read> upstream: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgrid: array<f32>;

// <grid-coordinate> (identical in the three grid_sample_*.wgsl files; a test checks it)
struct Params {
  batch: u32,
  channels: u32,
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
  alignCorners: u32,
  border: u32,           // 1: padding 'border' (clamp the coordinate), 0: padding 'zeros'
}

// The source pixel coordinate of normalised grid coordinate g along an axis of `size` pixels, and its
// derivative d coordinate / d g, as PyTorch's grid_sampler_compute_source_index_set_grad (bilinear):
// -1 and 1 are the centres of the edge pixels with aligned corners, their outer edges without.
// Border padding clamps the coordinate to [0, size - 1]; the derivative is 0 on and past the limits
// (PyTorch counts the borders themselves as out of bounds for the gradient).
fn sourceCoordinate(g: f32, size: u32) -> vec2<f32> {
  var c: f32;
  var d: f32;
  if (params.alignCorners != 0u) {
    c = (g + 1.0) / 2.0 * f32(size - 1u);
    d = f32(size - 1u) / 2.0;
  } else {
    c = ((g + 1.0) * f32(size) - 1.0) / 2.0;
    d = f32(size) / 2.0;
  }
  if (params.border != 0u) {
    let limit = f32(size - 1u);
    if (c <= 0.0 || c >= limit) {
      d = 0.0;
    }
    c = clamp(c, 0.0, limit);
  }
  return vec2<f32>(c, d);
}

// Where grid point `point` (= (n * outH + ho) * outW + wo) samples: its north-west neighbour (x0, y0),
// the fractions (fx, fy) past it, which weight the four neighbours nw (1-fx)(1-fy), ne fx(1-fy),
// sw (1-fx)fy and se fx fy, and the derivatives (dx, dy) of the source coordinates wrt the grid's.
struct Sample {
  x0: i32,
  y0: i32,
  fx: f32,
  fy: f32,
  dx: f32,
  dy: f32,
}

fn samplePoint(point: u32) -> Sample {
  let sx = sourceCoordinate(grid[2u * point], params.inW);
  let sy = sourceCoordinate(grid[2u * point + 1u], params.inH);
  let x0 = floor(sx.x);
  let y0 = floor(sy.x);
  // i32() saturates far-off coordinates (zeros padding): such neighbours fail `inside` below.
  return Sample(i32(x0), i32(y0), sx.x - x0, sy.x - y0, sx.y, sy.y);
}

// Whether pixel (x, y) lies in the input plane; 'zeros' padding reads 0 (and writes nothing) outside.
fn inside(x: i32, y: i32) -> bool {
  return x >= 0 && y >= 0 && x < i32(params.inW) && y < i32(params.inH);
}
// </grid-coordinate>

fn pixel(plane: u32, px: i32, py: i32) -> f32 {
  if (!inside(px, py)) {
    return 0.0;
  }
  return x[(plane * params.inH + u32(py)) * params.inW + u32(px)];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let point = (wid.x + wid.y * nwg.x) * 64u + lid;
  let points = params.outH * params.outW;
  if (point >= params.batch * points) {
    return;
  }
  let n = point / points;
  let s = samplePoint(point);
  var gx = 0.0;
  var gy = 0.0;
  for (var c = 0u; c < params.channels; c++) {
    let plane = n * params.channels + c;
    let g = upstream[plane * points + point % points];
    let nw = pixel(plane, s.x0, s.y0);
    let ne = pixel(plane, s.x0 + 1, s.y0);
    let sw = pixel(plane, s.x0, s.y0 + 1);
    let se = pixel(plane, s.x0 + 1, s.y0 + 1);
    gx += g * ((ne - nw) * (1.0 - s.fy) + (se - sw) * s.fy);
    gy += g * ((sw - nw) * (1.0 - s.fx) + (se - ne) * s.fx);
  }
  dgrid[2u * point] = gx * s.dx;
  dgrid[2u * point + 1u] = gy * s.dy;
}
