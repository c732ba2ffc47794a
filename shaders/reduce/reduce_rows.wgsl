// reduce_rows: sum or max (override OP) of each contiguous row, out[row] = scale * reduce(x[row * rowLength
// .. (row + 1) * rowLength)). The fast path for reducing the last axis.
//
// Thread mapping: one workgroup of 64 invocations per row (row = wid.x + wid.y * nwg.x, folded into y
// past 65535 rows). Invocation t accumulates elements t, t + 64, t + 128, ... (neighbouring
// invocations read neighbouring addresses), then a tree over workgroup memory halves the 64 partials in
// 6 barrier-separated steps. 64 rather than 256 invocations: barriers are expensive on CPU adapters and
// the rows this path takes are a few hundred to a few thousand long.
// Bounds: the host sends only rows with rowLength >= 64, so every invocation owns at least one element
// (which seeds its partial: MAX needs no -inf constant). Workgroups past `rows` return as a whole, before
// any barrier, so barriers stay in uniform control flow.

struct Params {
  rows: u32,
  rowLength: u32,
  scale: f32,
}

override OP: u32 = 0u;
const SUM = 0u;
const MAX = 1u;
const WG = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

// By bits: compilers may assume v != v is false.
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == MAX) {
    return select(acc, v, v > acc || isNan(v));
  }
  return acc + v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.rowLength;
  var acc = x[base + lid];
  for (var i = lid + WG; i < params.rowLength; i += WG) {
    acc = combine(acc, x[base + i]);
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] = combine(partial[lid], partial[lid + stride]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row] = params.scale * partial[0];
  }
}
