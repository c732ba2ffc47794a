// The race detector over every kernel that uses workgroup memory, each under a small dispatch with
// ragged edges; and proof that the helper reports a race when a barrier is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertNoRaces } from './helpers/race.js';
import matmulTiled from '../shaders/matmul/tiled.wgsl';

const exchange = (barrier: string) => `
  @group(0) @binding(0) var<storage, read> x: array<f32>;
  @group(0) @binding(1) var<storage, read_write> out: array<f32>;
  var<workgroup> tile: array<f32, 8>;
  @compute @workgroup_size(8)
  fn main(@builtin(local_invocation_index) lid: u32) {
    tile[lid] = x[lid];
    ${barrier}
    out[lid] = tile[(lid + 1u) % 8u];
  }`;

test('the race detector reports a missing workgroupBarrier, and passes once it is there', () => {
  const buffers = { x: new Float32Array(8), out: new Float32Array(8) };
  assert.throws(() => assertNoRaces(exchange(''), 'exchange without barrier', { workgroups: [1], buffers }), /race report/);
  assertNoRaces(exchange('workgroupBarrier();'), 'exchange with barrier', { workgroups: [1], buffers });
});

test('the race detector reports a race across the last barrier of a reused tile', () => {
  // Without the trailing barrier, a fast invocation's next load overwrites what a slow one still reads.
  const dropLast = matmulTiled.replace(/workgroupBarrier\(\);\s*\}\s*\}\s*\n\s*for \(var i = 0u; i < BLOCK; i\+\+\) \{\s*let row/, (m) =>
    m.replace('workgroupBarrier();', ''),
  );
  assert.not.equal(dropLast, matmulTiled, 'the trailing barrier was found and removed');
  assert.throws(() => assertNoRaces(dropLast, 'matmul_tiled without its trailing barrier', tiledCheck(false, false)), /race report/);
});

/** A 2×2-workgroup dispatch of matmul_tiled with 4×4 invocations (16×16 tiles) over M = 20, N = 18,
 *  K = 21 (two ragged k steps), summing R = 2 batch elements. */
function tiledCheck(transA: boolean, transB: boolean) {
  const [m, n, k] = [20, 18, 21];
  return {
    workgroups: [2, 2, 1],
    buffers: {
      a: Float32Array.from({ length: 2 * m * k }, (_, i) => i % 7),
      b: Float32Array.from({ length: 2 * k * n }, (_, i) => i % 5),
      bias: new Float32Array(n),
      out: new Float32Array(m * n),
    },
    uniforms: {
      dims: [m, n, k, 2],
      zShape: [1, 1, 1, 1],
      zStrideA: [0, 0, 0, 0],
      zStrideB: [0, 0, 0, 0],
      rShape: [1, 1, 1, 2],
      rStrideA: [0, 0, 0, m * k],
      rStrideB: [0, 0, 0, k * n],
    },
    constants: { WG_X: 4, WG_Y: 4, TRANS_A: Number(transA), TRANS_B: Number(transB), HAS_BIAS: 1 },
  };
}

test('matmul_tiled has no races (plain and transposed operands)', () => {
  assertNoRaces(matmulTiled, 'matmul_tiled', tiledCheck(false, false));
  assertNoRaces(matmulTiled, 'matmul_tiled (transposed)', tiledCheck(true, true));
});

test.run();
