// matmul_registers: out[z] = sum over r < R of opA(z, r) · opB(z, r)  (+ bias[n] when HAS_BIAS), where
// opA is M×K and opB is K×N. A is stored [M, K] row-major, or [K, M] when TRANS_A; B is stored [K, N],
// or [N, K] when TRANS_B, so backward passes read the transposed operand in place. `z` is the output
// batch element (workgroup_id.z); `r` runs over batch dimensions that are summed away (the gradient of an
// operand that was broadcast over batch); the forward has R = 1. Batch offsets of A and B come from
// decomposing z over zShape and r over rShape (4 batch dimensions, innermost last) with per-operand
// element strides (0 where an operand is broadcast).
//
// For adapters that run compute shaders on the CPU (lavapipe, SwiftShader): no workgroup memory and no
// barriers (both are expensive there). Invocations are SIMD lanes and every load is issued lane by lane
// (lavapipe does so even for an address all lanes share), which costs far more than a multiply-add;
// so each invocation keeps a ROWS×8 block of the output in registers, and the ROWS values of A that a
// step of k needs, the same for every lane of the workgroup, are loaded once per 8 lanes: lane l of a
// subgroup loads rows l mod 8 and 8 + l mod 8 and subgroupBroadcast hands all ROWS to every lane
// (the host runs this kernel only where subgroups have at least 8 lanes). That makes 8 loads of B and
// 2 of A per k for 8·ROWS multiply-adds (8 + ROWS without sharing: 1.3-1.6x slower on lavapipe at
// 1024³). 16×8 blocks beat 8×8 and 4×8; 32×8 spills registers and loses. The loops over the block
// have constant trip counts and are unrolled by the compiler, which keeps `acc` in registers.
//
// Thread mapping: the workgroup (WG invocations, overridable) owns rows ROWS·wid.y .. + ROWS-1; its
// invocation x of the grid owns columns 8x .. 8x+7 of one output matrix (wid.z).
// Bounds: a workgroup whose rows start past M returns at once (uniformly, before any broadcast).
// Loads use row and column indices clamped to M-1 and N-1, so the K loop needs no branch and every
// lane stays active for the broadcasts; the values of clamped rows and columns are never stored:
// every store checks row < M and column < N.

enable subgroups;

struct Params {
  // M, N, K, R
  dims: vec4<u32>,
  zShape: vec4<u32>,
  zStrideA: vec4<u32>,
  zStrideB: vec4<u32>,
  rShape: vec4<u32>,
  rStrideA: vec4<u32>,
  rStrideB: vec4<u32>,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override WG: u32 = 16;
// Lanes that share one load; ROWS is two such groups.
const SHARED = 8u;
const ROWS = 16u;
// Output columns per invocation: two vec4s of each row of the block.
const COLS = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Element offsets of the A and B matrices used for output batch element z and reduced index r.
fn batchOffsets(z: u32, r: u32) -> vec2<u32> {
  var zRest = z;
  var rRest = r;
  var offsets = vec2<u32>(0u, 0u);
  for (var d = 3i; d >= 0i; d--) {
    let zi = zRest % params.zShape[d];
    let ri = rRest % params.rShape[d];
    zRest /= params.zShape[d];
    rRest /= params.rShape[d];
    offsets += vec2<u32>(
      zi * params.zStrideA[d] + ri * params.rStrideA[d],
      zi * params.zStrideB[d] + ri * params.rStrideB[d],
    );
  }
  return offsets;
}

// <shared8> (identical in conv2d/*_rows.wgsl and matmul/registers.wgsl; a test checks it)
// The values of lanes 0..7 of the subgroup, in every lane.
fn shared8(v: f32) -> array<f32, SHARED> {
  return array<f32, SHARED>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                            subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
// </shared8>

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.dims.x;
  let N = params.dims.y;
  let K = params.dims.z;
  let R = params.dims.w;
  let row0 = wid.y * ROWS;
  let col0 = gid.x * COLS;
  if (row0 >= M) {
    return;
  }
  // Element strides of A along m and k, and of B along k and n, fixed per pipeline by the overrides.
  let strideAm = select(K, 1u, TRANS_A);
  let strideAk = select(1u, M, TRANS_A);
  let strideBk = select(N, 1u, TRANS_B);
  let strideBn = select(1u, K, TRANS_B);

  let rowA_lo = min(row0 + lane % SHARED, M - 1u) * strideAm;
  let rowA_hi = min(row0 + SHARED + lane % SHARED, M - 1u) * strideAm;
  let colB0 = min(col0 + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u)) * strideBn;
  let colB1 = min(col0 + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(N - 1u)) * strideBn;

  // acc[2i] and acc[2i + 1]: columns 0..3 and 4..7 of row i of the block.
  var acc: array<vec4<f32>, 2u * ROWS>;
  for (var r = 0u; r < R; r++) {
    let offsets = batchOffsets(wid.z, r);
    var atA = offsets.x;
    var atB = offsets.y;
    for (var k = 0u; k < K; k++) {
      let b0 = vec4<f32>(b[atB + colB0.x], b[atB + colB0.y], b[atB + colB0.z], b[atB + colB0.w]);
      let b1 = vec4<f32>(b[atB + colB1.x], b[atB + colB1.y], b[atB + colB1.z], b[atB + colB1.w]);
      let lo = shared8(a[atA + rowA_lo]);
      let hi = shared8(a[atA + rowA_hi]);
      for (var i = 0u; i < SHARED; i++) {
        let a_lo = vec4<f32>(lo[i]);
        let a_hi = vec4<f32>(hi[i]);
        acc[2u * i] = fma(a_lo, b0, acc[2u * i]);
        acc[2u * i + 1u] = fma(a_lo, b1, acc[2u * i + 1u]);
        acc[2u * (i + SHARED)] = fma(a_hi, b0, acc[2u * (i + SHARED)]);
        acc[2u * (i + SHARED) + 1u] = fma(a_hi, b1, acc[2u * (i + SHARED) + 1u]);
      }
      atA += strideAk;
      atB += strideBk;
    }
  }

  for (var i = 0u; i < ROWS; i++) {
    let row = row0 + i;
    if (row >= M) {
      break;
    }
    let base = (wid.z * M + row) * N;
    for (var j = 0u; j < COLS; j++) {
      let col = col0 + j;
      if (col < N) {
        var v = acc[2u * i + j / 4u][j % 4u];
        if (HAS_BIAS) {
          v += bias[col];
        }
        out[base + col] = v;
      }
    }
  }
}
