import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, device, gradCheck, kernelsDispatched, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { manualSeed } from '../src/engine/random.js';
import { matmul, linear, setMatmulTuning, matmulTuning, type MatmulTuning } from '../src/kernels/matmul/index.js';
import { gemm } from '../src/kernels/matmul/gemm.js';
import { batchPlan } from '../src/kernels/matmul/batch.js';
import { tuningByArchitecture, gpuTuning } from '../src/kernels/matmul/tuning.js';
import { Linear } from '../src/nn/linear.js';
import { sharedLoadsRun } from '../src/kernels/subgroups.js';

// ---- float64 references ----------------------------------------------------------------------

/** torch.matmul in float64, written from the definition (1-D operands promoted, batch broadcast). */
function matmulReference(a: Float64Array, aShape: number[], b: Float64Array, bShape: number[]): Float64Array {
  const as = aShape.length === 1 ? [1, aShape[0]] : aShape;
  const bs = bShape.length === 1 ? [bShape[0], 1] : bShape;
  const [m, k] = as.slice(-2);
  const n = bs[bs.length - 1];
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pa = [...Array(rank - aBatch.length).fill(1), ...aBatch];
  const pb = [...Array(rank - bBatch.length).fill(1), ...bBatch];
  const full = pa.map((d, i) => Math.max(d, pb[i]));
  const count = full.reduce((x, y) => x * y, 1);
  const out = new Float64Array(count * m * n);
  for (let z = 0; z < count; z++) {
    let rest = z;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const i = rest % full[d];
      rest = Math.floor(rest / full[d]);
      ia += (pa[d] === 1 ? 0 : i) * sa;
      ib += (pb[d] === 1 ? 0 : i) * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[ia * m * k + r * k + q] * b[ib * k * n + q * n + c];
        out[(z * m + r) * n + c] = s;
      }
    }
  }
  return out;
}

/** x · weightᵀ + bias in float64. */
function linearReference(x: Float64Array, w: Float64Array, bias: Float64Array | null, outF: number, inF: number): Float64Array {
  const rows = x.length / inF;
  const out = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      out[r * outF + o] = s;
    }
  }
  return out;
}

/** Row-major transpose of a [rows, cols] matrix. */
function transpose(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

// Both kernels on whatever adapter runs the tests, with the default workgroups and with odd ones
// that put ragged edges inside and across workgroups. Register blocking only where it can run (it is
// refused elsewhere: see the test of setMatmulTuning's refusal).
const tunings = ([
  { variant: 'registers', workgroup: [32, 1] },
  { variant: 'registers', workgroup: [8, 1] },
  { variant: 'tiled', workgroup: [16, 16] },
  { variant: 'tiled', workgroup: [4, 8] },
] satisfies MatmulTuning[]).filter((t) => t.variant === 'tiled' || sharedLoadsRun());

/** Runs `fn` under each tuning, having seen that a product under it dispatches that tuning's kernel. */
async function forEachTuning(fn: (tuning: MatmulTuning) => Promise<void>): Promise<void> {
  try {
    for (const tuning of tunings) {
      setMatmulTuning(tuning);
      const ran = await kernelsDispatched(() => void matmul(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(12), [3, 4])));
      assert.equal(ran, [`matmul_${tuning.variant}`], `${name(tuning)}: the kernel dispatched`);
      await fn(tuning);
    }
  } finally {
    setMatmulTuning(null);
  }
}

const name = (t: MatmulTuning) => `${t.variant} [${t.workgroup}]`;

// ---- forward ---------------------------------------------------------------------------------

const forwardCases: [number[], number[]][] = [
  [[1, 1], [1, 1]],
  [[7, 13], [13, 5]],
  [[65, 33], [33, 129]],
  [[2, 1, 3, 5], [4, 5, 6]], // batch broadcast both ways
  [[3, 9, 4], [4, 11]], // 2-D b broadcast over a's batch
  [[1, 2, 3], [3]], // 1-D b: matrix-vector, its dimension dropped
  [[6], [2, 6, 3]], // 1-D a: vector-matrix, batched
  [[5], [5]], // dot product: a 0-D result
  [[4, 0], [0, 3]], // K = 0: zeros
];

test('matmul matches a float64 reference on odd and batched shapes, with every kernel', async () => {
  await forEachTuning(async (tuning) => {
    for (const [aShape, bShape] of forwardCases) {
      const a = randomData(size(aShape), 1);
      const b = randomData(size(bShape), 2);
      const values = await run(() => matmul(tensor(Float32Array.from(a), aShape), tensor(Float32Array.from(b), bShape)));
      const expected = matmulReference(a, aShape, b, bShape);
      assertClose(values, expected, `${name(tuning)}: [${aShape}] @ [${bShape}]`, { atol: 1e-5, rtol: 1e-5 });
    }
  });
});

test('matmul output shapes follow torch.matmul', () => {
  const shapeOf = (a: number[], b: number[]) => {
    const out = matmul(tensor(new Float32Array(size(a)), a), tensor(new Float32Array(size(b)), b));
    const shape = [...out.shape];
    out.dispose();
    return shape;
  };
  assert.equal(shapeOf([2, 1, 3, 5], [4, 5, 6]), [2, 4, 3, 6]);
  assert.equal(shapeOf([3, 4], [4]), [3]);
  assert.equal(shapeOf([4], [2, 4, 3]), [2, 3]);
  assert.equal(shapeOf([4], [4]), []);
});

test('matmul and linear reject bad shapes with the shapes in the message', () => {
  const t = (shape: number[]) => tensor(new Float32Array(size(shape)), shape);
  assert.throws(() => matmul(t([2, 3]), t([4, 5])), /matmul: shapes \[2,3\] and \[4,5\] cannot be multiplied/);
  assert.throws(() => matmul(t([2, 2, 3]), t([3, 3, 4])), /matmul: batch dimensions \[2\] of a \[2,2,3\] and \[3\] of b/);
  assert.throws(() => matmul(t([1, 1, 1, 1, 1, 2, 3]), t([3, 4])), /at most 4 batch dimensions/);
  assert.throws(() => linear(t([2, 5]), t([3, 4])), /linear: input of shape \[2,5\] must end in in_features = 4/);
  assert.throws(() => linear(t([2, 4]), t([3, 4]), t([4])), /linear: bias must have shape \[3\]/);
  assert.throws(() => setMatmulTuning({ variant: 'tiled', workgroup: [64, 64] }), /setMatmulTuning: workgroup \[64,64\]/);
  assert.throws(() => setMatmulTuning({ variant: 'tiled', workgroup: [32, 4] }), /16 × 16 maximum/);
});

test('transposed-operand and bias variants match the reference, with every kernel', async () => {
  const [m, k, n] = [65, 33, 129];
  const a = randomData(m * k, 3);
  const b = randomData(k * n, 4);
  const bias = randomData(n, 5);
  const expected = linearReference(a, transpose(b, k, n), bias, n, k);
  const stored = { a: [a, transpose(a, m, k)], b: [b, transpose(b, k, n)] };
  await forEachTuning(async (tuning) => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const values = await run(() =>
          gemm('test', {
            a: tensor(Float32Array.from(stored.a[Number(transA)]), [m * k]),
            b: tensor(Float32Array.from(stored.b[Number(transB)]), [k * n]),
            bias: tensor(Float32Array.from(bias), [n]),
            transA,
            transB,
            m,
            n,
            k,
            batch: batchPlan([], [], [], [], m * k, k * n),
            outShape: [m, n],
          }),
        );
        assertClose(values, expected, `${name(tuning)}: transA ${transA}, transB ${transB}`, { atol: 1e-5, rtol: 1e-5 });
      }
    }
  });
});

test('linear matches x · weightᵀ + bias, with and without bias, for every kernel', async () => {
  const [inF, outF] = [19, 10];
  const xShape = [3, 5, inF];
  const x = randomData(size(xShape), 6);
  const w = randomData(outF * inF, 7);
  const bias = randomData(outF, 8);
  await forEachTuning(async (tuning) => {
    for (const withBias of [true, false]) {
      const values = await run(() =>
        linear(
          tensor(Float32Array.from(x), xShape),
          tensor(Float32Array.from(w), [outF, inF]),
          withBias ? tensor(Float32Array.from(bias), [outF]) : null,
        ),
      );
      assertClose(values, linearReference(x, w, withBias ? bias : null, outF, inF), `${name(tuning)}: bias ${withBias}`);
    }
  });
});

// ---- gradients -------------------------------------------------------------------------------

const gradCases: [number[], number[]][] = [
  [[3, 4], [4, 5]],
  [[2, 1, 3, 4], [3, 4, 2]], // a broadcast over b's batch dimension, b over a's
  [[2, 3, 4], [4, 5]], // b's gradient sums over the batch
  [[1], [2, 1, 3]], // 1-D a
  [[2, 3], [3]], // 1-D b
];

test('matmul gradients match finite differences, with every kernel', async () => {
  await forEachTuning(async (tuning) => {
    for (const [aShape, bShape] of gradCases) {
      await gradCheck(
        `${name(tuning)}: [${aShape}] @ [${bShape}]`,
        [
          { shape: aShape, data: randomData(size(aShape), 10) },
          { shape: bShape, data: randomData(size(bShape), 11) },
        ],
        matmul,
        (a, b) => matmulReference(a, aShape, b, bShape),
      );
    }
  });
});

test('linear gradients (x, weight, bias) match finite differences, with every kernel', async () => {
  const [inF, outF] = [5, 3];
  const xShape = [2, 3, inF];
  await forEachTuning(async (tuning) => {
    await gradCheck(
      `${name(tuning)}: linear`,
      [
        { shape: xShape, data: randomData(size(xShape), 12) },
        { shape: [outF, inF], data: randomData(outF * inF, 13) },
        { shape: [outF], data: randomData(outF, 14) },
      ],
      linear,
      (x, w, b) => linearReference(x, w, b, outF, inF),
    );
    await gradCheck(
      `${name(tuning)}: linear without bias, 1-D input`,
      [
        { shape: [inF], data: randomData(inF, 15) },
        { shape: [outF, inF], data: randomData(outF * inF, 16) },
      ],
      (x, w) => linear(x, w),
      (x, w) => linearReference(x, w, null, outF, inF),
    );
  });
});

// ---- nn.Linear -------------------------------------------------------------------------------

test('Linear: PyTorch init bounds U(-1/sqrt(in), 1/sqrt(in)), reproducible from the seed', async () => {
  const [inF, outF] = [50, 40];
  const bound = 1 / Math.sqrt(inF);
  manualSeed(7);
  const first = new Linear(inF, outF);
  manualSeed(7);
  const second = new Linear(inF, outF);
  assert.equal(first.namedParameters().map(([n, t]) => [n, [...t.shape]]), [
    ['weight', [outF, inF]],
    ['bias', [outF]],
  ]);
  const w = await first.weight.toArray();
  const b = await first.bias!.toArray();
  assert.equal(await second.weight.toArray(), w);
  assert.equal(await second.bias!.toArray(), b);
  for (const [what, values] of [['weight', w], ['bias', b]] as const) {
    assert.ok(values.every((v) => Math.abs(v) <= bound), `${what} within ±${bound}`);
    // Spread over the interval: a narrower init (wrong fan) would fail this.
    assert.ok(Math.max(...values.map(Math.abs)) > 0.9 * bound, `${what} reaches close to ±${bound}`);
  }
  assert.not.equal(w.slice(0, outF), b, 'weight and bias are different draws');
  const x = randomData(2 * inF, 17);
  const y = await run(() => first.forward(tensor(Float32Array.from(x), [2, inF])));
  assertClose(y, linearReference(x, Float64Array.from(w), Float64Array.from(b), outF, inF), 'Linear.forward');
  const noBias = new Linear(inF, outF, { bias: false });
  assert.is(noBias.bias, null);
  assert.equal(Object.keys(noBias.stateDict()), ['weight']);
  for (const m of [first, second, noBias]) m.dispose();
});

test('the tuning table picks register blocking on CPU adapters and tiles elsewhere', () => {
  assert.is(tuningByArchitecture.software.variant, 'registers');
  assert.is(tuningByArchitecture.swiftshader.variant, 'registers');
  assert.is(gpuTuning.variant, 'tiled');
  const listed = tuningByArchitecture[device.adapter.architecture] ?? gpuTuning;
  // Register blocking shares its loads across subgroups of 8 lanes; without them the tiles run.
  assert.equal(matmulTuning(), listed.variant === 'registers' && device.subgroupMinSize < 8 ? gpuTuning : listed);
  assert.throws(() => setMatmulTuning({ variant: 'registers', workgroup: [3, 5] }), /registers workgroup \[3,5\] must be \[a multiple of 8, 1\]/);
});

test('a forced registers tuning on a device without subgroups of 8 lanes is refused, naming why', async () => {
  const registers: MatmulTuning = { variant: 'registers', workgroup: [16, 1] };
  const before = matmulTuning();
  try {
    // The second argument stands in for the device's smallest subgroup (0: no subgroups feature).
    assert.throws(
      () => setMatmulTuning(registers, 0),
      /setMatmulTuning: the forced tuning registers \[16,1\] needs the 'subgroups' feature with at least 8 lanes per subgroup; this device has no subgroups \(force 'tiled'\)/,
    );
    assert.throws(() => setMatmulTuning(registers, 4), /this device has subgroups of as few as 4 lanes/);
    assert.equal(matmulTuning(), before, 'a refused tuning leaves the one in effect');
    setMatmulTuning({ variant: 'tiled', workgroup: [8, 8] }, 0);
    assert.equal(matmulTuning(), { variant: 'tiled', workgroup: [8, 8] }, 'the tiles need no subgroups');
    // On this device: refused exactly where it cannot run, and where it runs, it is what runs.
    if (sharedLoadsRun()) {
      setMatmulTuning(registers);
      assert.equal(await kernelsDispatched(() => void matmul(tensor([1, 2], [1, 2]), tensor([3, 4], [2, 1]))), ['matmul_registers']);
    } else {
      assert.throws(() => setMatmulTuning(registers), /needs the 'subgroups' feature/);
    }
  } finally {
    setMatmulTuning(null);
  }
});

test.run();
