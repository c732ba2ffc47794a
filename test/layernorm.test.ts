// layerNorm (as F.layer_norm) and nn.LayerNorm against a float64 reference: forward for row lengths
// 1, odd and 4096, rows folded past 65535 workgroups, a large mean; gradients by finite differences;
// the race detector on its three kernels; bad arguments.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { assertNoRaces } from './helpers/race.js';
import { tensor, numel } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { layerNorm } from '../src/kernels/norm/index.js';
import { LayerNorm } from '../src/nn/index.js';
import { layerNormRef } from './reference/norm.js';
import forwardSource from '../shaders/norm/layer_norm_forward.wgsl';
import backwardDataSource from '../shaders/norm/layer_norm_backward_data.wgsl';
import backwardWeightSource from '../shaders/norm/layer_norm_backward_weight.wgsl';

const f32 = (data: Float64Array, shape: number[], requiresGrad = false) => tensor(Float32Array.from(data), shape, { requiresGrad });

/** The largest |actual - expected|, for the report of measured errors. */
function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

const cases: { shape: number[]; normalized: number[] }[] = [
  { shape: [6, 1], normalized: [1] },
  { shape: [5, 7], normalized: [7] },
  { shape: [3, 131], normalized: [131] },
  { shape: [2, 4096], normalized: [4096] },
  { shape: [2, 3, 4, 5], normalized: [4, 5] },
  { shape: [7], normalized: [7] },
];

test('layerNorm matches the float64 reference (row lengths 1, odd, 4096; with and without weight and bias)', async () => {
  for (const [k, { shape, normalized }] of cases.entries()) {
    const size = numel(normalized);
    const x = randomData(numel(shape), 10 + k, -3, 3);
    const weight = randomData(size, 20 + k, 0.5, 1.5);
    const bias = randomData(size, 30 + k);
    for (const affine of [false, true]) {
      const expected = layerNormRef(x, size, affine ? weight : null, affine ? bias : null);
      const actual = await run(() => layerNorm(f32(x, shape), normalized, affine ? f32(weight, normalized) : null, affine ? f32(bias, normalized) : null));
      assertClose(actual, expected, `layerNorm [${shape}] over [${normalized}] affine=${affine}`, { atol: 2e-5, rtol: 1e-5 });
      if (size === 4096 && affine) console.log(`  layerNorm [${shape}]: max |error| ${maxError(actual, expected).toExponential(2)}`);
    }
  }
});

test('layerNorm takes weight without bias and bias without weight, and a custom eps', async () => {
  const x = randomData(20, 3, -2, 2);
  const weight = randomData(5, 4);
  const bias = randomData(5, 5);
  const xt = () => f32(x, [4, 5]);
  assertClose(await run(() => layerNorm(xt(), 5, f32(weight, [5]))), layerNormRef(x, 5, weight, null), 'weight only', { atol: 2e-5 });
  assertClose(await run(() => layerNorm(xt(), 5, null, f32(bias, [5]))), layerNormRef(x, 5, null, bias), 'bias only', { atol: 2e-5 });
  assertClose(await run(() => layerNorm(xt(), [5], null, null, { eps: 0.5 })), layerNormRef(x, 5, null, null, 0.5), 'eps 0.5', { atol: 2e-5 });
});

test('layerNorm is accurate when the mean dwarfs the spread (two-pass variance)', async () => {
  const x = randomData(4 * 300, 6).map((v) => 1000 + 0.01 * v);
  const actual = await run(() => layerNorm(f32(x, [4, 300]), 300));
  // The float32 rounding of the inputs themselves (ulp(1000) / 2 = 3e-5, over a spread of 0.01) bounds
  // what any float32 implementation can reach: compare with the reference of the rounded inputs.
  const rounded = layerNormRef(Float64Array.from(Float32Array.from(x)), 300, null, null);
  assertClose(actual, rounded, 'layerNorm of 1000 + 0.01 u', { atol: 1e-4 });
  console.log(`  layerNorm of 1000 + 0.01 u: max |error| ${maxError(actual, rounded).toExponential(2)}`);
});

test('layerNorm folds more than 65535 workgroups of rows', async () => {
  // Rows of one element run one invocation each, 256 per workgroup: 65536 * 256 + 3 rows need the fold.
  const rows = 65536 * 256 + 3;
  const x = new Float32Array(rows).map((_, i) => (i % 13) - 6);
  const bias = Float32Array.of(0.25);
  const out = await run(() => layerNorm(tensor(x, [rows, 1]), [1], tensor(Float32Array.of(2), [1]), tensor(bias, [1])));
  // A one-element row normalises to 0: the output is the bias, in every row, the last ones included.
  assert.ok(out.every((v) => v === 0.25), 'every row is its bias');
  // Its input gradient is 0 in every row (rstd * (g - mean(g) - 0)); a row the backward missed would
  // keep whatever the pooled buffer held before.
  const xt = tensor(x, [rows, 1], { requiresGrad: true });
  tidy(() => layerNorm(xt, 1).backward(tensor(x, [rows, 1])));
  assert.ok((await xt.grad!.toArray()).every((v) => v === 0), 'every row of the input gradient is 0');
  xt.grad!.dispose();
  xt.dispose();
});

test('layerNorm backward folds more than 65535 workgroups of weight positions', async () => {
  // 32 positions per workgroup: one row of 65536 * 32 + 5 needs the fold; its bias gradient is g itself.
  const size = 65536 * 32 + 5;
  const g = Float32Array.from({ length: size }, (_, i) => (i % 7) - 3);
  const x = tensor(Float32Array.from({ length: size }, (_, i) => Math.sin(i)), [1, size]);
  const bias = tensor(new Float32Array(size), [size], { requiresGrad: true });
  tidy(() => layerNorm(x, size, null, bias).backward(tensor(g, [1, size])));
  assert.equal(await bias.grad!.toArray(), g);
});

test('layerNorm backward: finite differences for x, weight and bias', async () => {
  for (const [k, { shape, normalized }] of [
    { shape: [3, 5], normalized: [5] },
    { shape: [2, 3, 4], normalized: [3, 4] },
    { shape: [4, 1], normalized: [1] },
    { shape: [2, 200], normalized: [200] },
  ].entries()) {
    const size = numel(normalized);
    const x = { shape, data: randomData(numel(shape), 40 + k, -2, 2) };
    const weight = { shape: normalized, data: randomData(size, 50 + k, 0.5, 1.5) };
    const bias = { shape: normalized, data: randomData(size, 60 + k) };
    await gradCheck(
      `layerNorm [${shape}] over [${normalized}]`,
      [x, weight, bias],
      (xt, wt, bt) => layerNorm(xt, normalized, wt, bt),
      (xd, wd, bd) => layerNormRef(xd, size, wd, bd),
    );
    await gradCheck(`layerNorm [${shape}] without affine`, [x], (xt) => layerNorm(xt, normalized), (xd) => layerNormRef(xd, size, null, null));
  }
});

test('layerNorm backward: a row of 4096 and weight gradients over many rows', async () => {
  // Too many inputs for finite differences: the analytic gradients of the float64 reference instead.
  for (const [rows, size] of [[2, 4096], [1000, 40]]) {
    const x = randomData(rows * size, 70, -2, 2);
    const w = randomData(size, 71, 0.5, 1.5);
    const g = randomData(rows * size, 72);
    const expected = { x: new Float64Array(rows * size), weight: new Float64Array(size), bias: new Float64Array(size) };
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * size, (r + 1) * size);
      const mean = row.reduce((a, b) => a + b, 0) / size;
      const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / size + 1e-5);
      let sumGw = 0;
      let sumGwXhat = 0;
      for (let c = 0; c < size; c++) {
        const xhat = (row[c] - mean) * rstd;
        const gw = g[r * size + c] * w[c];
        sumGw += gw;
        sumGwXhat += gw * xhat;
        expected.weight[c] += g[r * size + c] * xhat;
        expected.bias[c] += g[r * size + c];
      }
      for (let c = 0; c < size; c++) {
        const xhat = (row[c] - mean) * rstd;
        expected.x[r * size + c] = rstd * (g[r * size + c] * w[c] - sumGw / size - (xhat * sumGwXhat) / size);
      }
    }
    const xt = f32(x, [rows, size], true);
    const wt = f32(w, [size], true);
    const bt = f32(new Float64Array(size), [size], true);
    tidy(() => layerNorm(xt, size, wt, bt).backward(f32(g, [rows, size])));
    const [gx, gw, gb] = [await xt.grad!.toArray(), await wt.grad!.toArray(), await bt.grad!.toArray()];
    assertClose(gx, expected.x, `layerNorm [${rows}, ${size}] dx`, { atol: 1e-4, rtol: 1e-4 });
    assertClose(gw, expected.weight, `layerNorm [${rows}, ${size}] dweight`, { atol: 1e-3, rtol: 1e-4 });
    assertClose(gb, expected.bias, `layerNorm [${rows}, ${size}] dbias`, { atol: 1e-3, rtol: 1e-4 });
    console.log(`  layerNorm backward [${rows}, ${size}]: max |error| dx ${maxError(gx, expected.x).toExponential(2)}, dweight ${maxError(gw, expected.weight).toExponential(2)}, dbias ${maxError(gb, expected.bias).toExponential(2)}`);
    for (const t of [xt, wt, bt]) {
      t.grad!.dispose();
      t.dispose();
    }
  }
});

test('layerNorm with a retained graph backpropagates twice through its saved statistics', async () => {
  const x = f32(randomData(12, 80), [3, 4], true);
  tidy(() => {
    const y = layerNorm(x, 4);
    const g = f32(randomData(12, 81), [3, 4]);
    y.backward(g, { retainGraph: true });
    y.backward(g);
  });
  const once = tidy(() => {
    const x2 = f32(randomData(12, 80), [3, 4], true);
    layerNorm(x2, 4).backward(f32(randomData(12, 81), [3, 4]));
    return x2.grad!;
  });
  assertClose(await x.grad!.toArray(), Float64Array.from(await once.toArray(), (v) => 2 * v), 'twice the gradient', { atol: 1e-5 });
});

test('nn.LayerNorm has PyTorch state-dict names and computes layerNorm', async () => {
  const ln = new LayerNorm([3, 4]);
  assert.equal(Object.keys(ln.stateDict()), ['weight', 'bias']);
  assert.equal(ln.weight!.shape, [3, 4]);
  assert.ok((await ln.weight!.toArray()).every((v) => v === 1));
  assert.ok((await ln.bias!.toArray()).every((v) => v === 0));
  assert.equal(Object.keys(new LayerNorm(8, { bias: false }).stateDict()), ['weight']);
  assert.equal(Object.keys(new LayerNorm(8, { elementwiseAffine: false }).stateDict()), []);
  const x = randomData(24, 90);
  assertClose(await run(() => ln.forward(f32(x, [2, 3, 4]))), layerNormRef(x, 12, null, null), 'LayerNorm([3, 4])', { atol: 2e-5 });
  const eps = new LayerNorm(4, { eps: 0.1, elementwiseAffine: false });
  assertClose(await run(() => eps.forward(f32(x, [6, 4]))), layerNormRef(x, 4, null, null, 0.1), 'LayerNorm eps 0.1', { atol: 2e-5 });
  assert.throws(() => new LayerNorm([]), /LayerNorm: normalizedShape must be/);
  assert.throws(() => new LayerNorm(2.5), /LayerNorm: normalizedShape must be/);
});

test('layerNorm refuses bad arguments with clear errors', () => {
  const x = tensor(new Float32Array(12), [3, 4]);
  assert.throws(() => layerNorm(x, [3]), /layerNorm: normalizedShape \[3\] must equal the trailing dimensions of the input, got input shape \[3,4\]/);
  assert.throws(() => layerNorm(x, [2, 3, 4]), /normalizedShape \[2,3,4\] must equal the trailing dimensions/);
  assert.throws(() => layerNorm(x, []), /normalizedShape must be a non-empty list/);
  assert.throws(() => layerNorm(x, 4, tensor(new Float32Array(3), [3])), /layerNorm: weight must have shape \[4\] \(normalizedShape\), got \[3\]/);
  assert.throws(() => layerNorm(x, 4, null, tensor(new Float32Array(4), [1, 4])), /layerNorm: bias must have shape \[4\]/);
  assert.throws(() => layerNorm(x, 4, null, null, { eps: -1 }), /layerNorm: eps must be a finite number >= 0, got -1/);
  assert.throws(() => layerNorm(tensor([true, false], [1, 2]), 2), /layerNorm: input must be a float32 tensor, got bool of shape \[1,2\]/);
  assert.throws(() => layerNorm(x, 4, tensor(Int32Array.of(1, 1, 1, 1), [4])), /layerNorm: weight must be a float32 tensor, got int32/);
});

test('layerNorm of an empty input is empty, with zero weight gradients', async () => {
  const x = tensor(new Float32Array(0), [0, 3], { requiresGrad: true });
  const w = tensor(Float32Array.of(1, 2, 3), [3], { requiresGrad: true });
  tidy(() => layerNorm(x, 3, w).backward(tensor(new Float32Array(0), [0, 3])));
  assert.equal([...(await w.grad!.toArray())], [0, 0, 0]);
});

test('the layerNorm kernels are free of workgroup-memory races', () => {
  // Rows of 5 over 4 lanes (lanes with 1 or 2 elements), 64 rows per workgroup: the second of the two
  // workgroups has 6 rows in range and 58 past the end.
  const rows = 70;
  const size = 5;
  const data = () => Float32Array.from({ length: rows * size }, (_, i) => Math.sin(i));
  for (const AFFINE of [0, 1]) {
    assertNoRaces(forwardSource, `layer_norm_forward AFFINE=${AFFINE}`, {
      workgroups: [2],
      buffers: { x: data(), weight: new Float32Array(size).fill(1), bias: new Float32Array(size), out: new Float32Array(rows * size), mean: new Float32Array(rows), rstd: new Float32Array(rows) },
      uniforms: { rows, size, eps: 1e-5 },
      constants: { THREADS_PER_ROW: 4, AFFINE, BIAS: AFFINE },
    });
    assertNoRaces(backwardDataSource, `layer_norm_backward_data AFFINE=${AFFINE}`, {
      workgroups: [2],
      buffers: { x: data(), g: data(), weight: new Float32Array(size).fill(1), mean: new Float32Array(rows), rstd: new Float32Array(rows).fill(1), gx: new Float32Array(rows * size) },
      uniforms: { rows, size },
      constants: { THREADS_PER_ROW: 4, AFFINE },
    });
  }
  // 37 positions: the second workgroup of 32 has 5 in range.
  const columns = 37;
  assertNoRaces(backwardWeightSource, 'layer_norm_backward_weight', {
    workgroups: [2],
    buffers: {
      x: Float32Array.from({ length: 11 * columns }, (_, i) => Math.cos(i)),
      g: Float32Array.from({ length: 11 * columns }, (_, i) => Math.sin(i)),
      mean: new Float32Array(11),
      rstd: new Float32Array(11).fill(1),
      gweight: new Float32Array(columns),
      gbias: new Float32Array(columns),
    },
    uniforms: { rows: 11, size: columns },
  });
});

test.run();
