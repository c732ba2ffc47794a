// The race detector over every kernel that uses workgroup memory, each under a small dispatch with
// ragged edges; and proof that the helper reports a race when a barrier is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertNoRaces } from './helpers/race.js';
import matmulTiled from '../shaders/matmul/tiled.wgsl';
import attentionForwardTiled from '../shaders/attention/attention_forward_tiled.wgsl';
import attentionQueryTiled from '../shaders/attention/attention_backward_query_tiled.wgsl';
import attentionKeyTiled from '../shaders/attention/attention_backward_key_tiled.wgsl';

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

/** The tiled attention kernels on 2 query heads over 1 key/value head (GQA), L = 5 query rows and
 *  S = 11 keys (a full tile of 8 and a ragged one), E = 4, Ev = 3, causal: one workgroup per head. */
function attentionCheck(pass: 'forward' | 'query' | 'key') {
  const keyPass = pass === 'key';
  const [heads, L, S, E, Ev] = [2, 5, 11, 4, 3];
  const values = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
  const inputs = { q: values(heads * L * E), k: values(S * E), v: values(S * Ev), mask: new Uint32Array(1) };
  const backward = { ...inputs, gradOut: values(heads * L * Ev), lse: values(heads * L), rowDot: values(heads * L) };
  return {
    workgroups: [keyPass ? 1 : heads],
    uniforms: {
      ...(keyPass ? { keyRows: S } : { rows: heads * L }),
      queryLength: L, keyLength: S, headDim: E, valueDim: Ev, queryHeads: heads, groupSize: heads, scale: 0.5,
      maskRowStride: 0, maskColStride: 0, dropoutSeed: 0, dropoutThreshold: 0, keepScale: 1,
      maskBatchShape: [1, 1, 1, 1], maskBatchStride: [0, 0, 0, 0],
    },
    buffers: {
      forward: { ...inputs, out: new Float32Array(heads * L * Ev), lse: new Float32Array(heads * L) },
      query: { ...backward, gradQuery: new Float32Array(heads * L * E), gradMask: new Float32Array(1) },
      key: { ...backward, gradKey: new Float32Array(S * E), gradValue: new Float32Array(S * Ev) },
    }[pass],
    constants: { HEAD_DIM: E, VALUE_DIM: Ev, CAUSAL: 1 },
  };
}

test('the tiled attention kernels (forward, dQ, dK / dV) have no races', () => {
  assertNoRaces(attentionForwardTiled, 'attention_forward_tiled', attentionCheck('forward'));
  assertNoRaces(attentionQueryTiled, 'attention_backward_query_tiled', attentionCheck('query'));
  assertNoRaces(attentionKeyTiled, 'attention_backward_key_tiled', attentionCheck('key'));
});

test.run();
