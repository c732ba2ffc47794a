// matmul_tiled: the same product as matmul_registers.wgsl (out[z] = sum over r < R of opA(z, r) · opB(z, r),
// + bias[n] when HAS_BIAS; A stored [M, K] or [K, M] when TRANS_A, B stored [K, N] or [N, K] when TRANS_B;
// batch offsets from z over zShape and r over rShape with per-operand strides), for GPUs, where staging
// tiles in workgroup memory wins.
//
// Tiling: a workgroup of WG_X × WG_Y invocations computes a (4·WG_Y) × (4·WG_X) output tile. For each
// step of TILE_K along k it stages the A tile [TILE_K][4·WG_Y] and the B tile [TILE_K][4·WG_X] in
// workgroup memory (k-major, so the inner loop reads consecutive words across invocations), then each
// invocation accumulates a 4×4 block. The staging loop walks each operand along its contiguous
// dimension (k for A unless TRANS_A, n for B unless TRANS_B), so neighbouring invocations load
// neighbouring words.
// Thread mapping: invocation (tx, ty) owns rows ty + WG_Y·i and columns tx + WG_X·j (i, j < 4) of the
// tile: strided rather than blocked, so that the workgroup-memory reads and the output stores of
// neighbouring invocations are consecutive.
// Bounds: staged elements past M, N or K are zero (so they add nothing); stores check row < M and
// column < N. Barriers sit in loops whose bounds come from the uniforms (workgroup-uniform).

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
override WG_X: u32 = 16;
override WG_Y: u32 = 16;
const TILE_K = 16u;
// Tiles are sized for the largest workgroup (WG_X, WG_Y ≤ MAX_WG) with constant-sized arrays, which
// every WGSL implementation and wgsl_reflect's race detector accept (override-sized ones are not).
const MAX_WG = 16u;
// Output rows and columns per invocation: a row of the block is one vec4.
const BLOCK = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> tileA: array<f32, TILE_K * BLOCK * MAX_WG>;
var<workgroup> tileB: array<f32, TILE_K * BLOCK * MAX_WG>;

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

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) lindex: u32,
) {
  let M = params.dims.x;
  let N = params.dims.y;
  let K = params.dims.z;
  let R = params.dims.w;
  let tileM = BLOCK * WG_Y;
  let tileN = BLOCK * WG_X;
  let threads = WG_X * WG_Y;
  let rowBase = wid.y * tileM;
  let colBase = wid.x * tileN;
  let strideAm = select(K, 1u, TRANS_A);
  let strideAk = select(1u, M, TRANS_A);
  let strideBk = select(N, 1u, TRANS_B);
  let strideBn = select(1u, K, TRANS_B);

  var acc = array<vec4<f32>, BLOCK>();
  for (var r = 0u; r < R; r++) {
    let offsets = batchOffsets(wid.z, r);
    for (var k0 = 0u; k0 < K; k0 += TILE_K) {
      for (var i = lindex; i < TILE_K * tileM; i += threads) {
        let kk = select(i % TILE_K, i / tileM, TRANS_A);
        let mm = select(i / TILE_K, i % tileM, TRANS_A);
        let m = rowBase + mm;
        let k = k0 + kk;
        var value = 0.0;
        if (m < M && k < K) {
          value = a[offsets.x + m * strideAm + k * strideAk];
        }
        tileA[kk * tileM + mm] = value;
      }
      for (var i = lindex; i < TILE_K * tileN; i += threads) {
        let kk = select(i / tileN, i % TILE_K, TRANS_B);
        let nn = select(i % tileN, i / TILE_K, TRANS_B);
        let n = colBase + nn;
        let k = k0 + kk;
        var value = 0.0;
        if (n < N && k < K) {
          value = b[offsets.y + k * strideBk + n * strideBn];
        }
        tileB[kk * tileN + nn] = value;
      }
      workgroupBarrier();
      for (var kk = 0u; kk < TILE_K; kk++) {
        let rowB = kk * tileN + lid.x;
        let bv = vec4<f32>(tileB[rowB], tileB[rowB + WG_X], tileB[rowB + 2u * WG_X], tileB[rowB + 3u * WG_X]);
        let rowA = kk * tileM + lid.y;
        for (var i = 0u; i < BLOCK; i++) {
          acc[i] = fma(vec4<f32>(tileA[rowA + i * WG_Y]), bv, acc[i]);
        }
      }
      // The next step overwrites the tiles: every invocation must be done reading them.
      workgroupBarrier();
    }
  }

  for (var i = 0u; i < BLOCK; i++) {
    let row = rowBase + lid.y + i * WG_Y;
    if (row >= M) {
      continue;
    }
    for (var j = 0u; j < BLOCK; j++) {
      let col = colBase + lid.x + j * WG_X;
      if (col < N) {
        var v = acc[i][j];
        if (HAS_BIAS) {
          v += bias[col];
        }
        out[(wid.z * M + row) * N + col] = v;
      }
    }
  }
}
