import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectRaces } from 'wgsl_reflect/wgsl_reflect.module.js';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { recorder } from '../src/engine/recorder.js';
import { pool } from '../src/engine/pool.js';
import { noGrad } from '../src/engine/autograd.js';
import { softmax, logSoftmax, crossEntropy, type Reduction } from '../src/kernels/softmax/index.js';
import softmaxForwardSource from '../shaders/softmax/softmax_forward.wgsl';
import softmaxBackwardSource from '../shaders/softmax/softmax_backward.wgsl';
import reduceSource from '../shaders/softmax/cross_entropy_reduce.wgsl';
import fixture from './fixtures/softmax.json';

// ---- float64 references ----

function softmaxReference(x: Float64Array, shape: number[], dim: number, log: boolean): Float64Array {
  const d = dim < 0 ? dim + shape.length : dim;
  const size = shape[d];
  const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const outer = x.length / (size * inner);
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (c: number) => (o * size + c) * inner + i;
      let max = -Infinity;
      for (let c = 0; c < size; c++) max = Math.max(max, x[at(c)]);
      let sum = 0;
      for (let c = 0; c < size; c++) sum += Math.exp(x[at(c)] - max);
      for (let c = 0; c < size; c++) {
        out[at(c)] = log ? x[at(c)] - max - Math.log(sum) : Math.exp(x[at(c)] - max) / sum;
      }
    }
  }
  return out;
}

interface CrossEntropyCase {
  labels: Int32Array;
  weight?: Float64Array;
  labelSmoothing?: number;
  reduction?: Reduction;
}

function crossEntropyReference(z: Float64Array, classes: number, options: CrossEntropyCase): Float64Array {
  const { labels, weight, labelSmoothing: eps = 0, reduction = 'mean' } = options;
  const w = (c: number) => (weight ? weight[c] : 1);
  const logp = softmaxReference(z, [labels.length, classes], 1, true);
  const rows = new Float64Array(labels.length);
  let totalWeight = 0;
  labels.forEach((y, n) => {
    let smooth = 0;
    for (let c = 0; c < classes; c++) smooth -= w(c) * logp[n * classes + c];
    rows[n] = (1 - eps) * -w(y) * logp[n * classes + y] + (eps / classes) * smooth;
    totalWeight += w(y);
  });
  if (reduction === 'none') return rows;
  const sum = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'sum' ? sum : sum / totalWeight);
}

const f32 = (x: ArrayLike<number>) => Float32Array.from(x);

// ---- softmax / logSoftmax ----

// Shapes chosen to hit 1, 2, 8, 16 and 256 lanes per row, strided rows (inner > 1) with one lane
// (many rows) and with several (few rows), batch 1 and single-element rows.
const softmaxShapes: [number[], number][] = [
  [[5, 7], 1],
  [[5, 7], -1],
  [[3, 4, 5], 1],
  [[3, 4, 5], 0],
  [[2, 100], -1],
  [[2, 300, 3], -2],
  [[2, 70, 130], 1],
  [[3, 1000], 1],
  [[1, 20000], 1],
  [[4, 1], 1],
  [[1], 0],
];

test('softmax and logSoftmax match the float64 reference along every kind of dim', async () => {
  for (const [shape, dim] of softmaxShapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomData(n, n + dim, -8, 8);
    for (const log of [false, true]) {
      const op = log ? logSoftmax : softmax;
      const got = await run(() => op(tensor(f32(x), shape), dim));
      assertClose(got, softmaxReference(x, shape, dim, log), `${op.name} [${shape}] dim ${dim}`, { atol: 1e-6, rtol: 1e-5 });
    }
  }
});

test('softmax is stable for huge logits (max-subtracted)', async () => {
  const x = Float64Array.from([1000, 1001, 999, -1000, 88.8, 200]);
  for (const log of [false, true]) {
    const got = await run(() => (log ? logSoftmax : softmax)(tensor(f32(x), [2, 3]), 1));
    assertClose(got, softmaxReference(x, [2, 3], 1, log), `stable ${log ? 'logSoftmax' : 'softmax'}`, { atol: 1e-6, rtol: 1e-6 });
  }
});

test('softmax and logSoftmax gradients (gradCheck), short and long rows', async () => {
  for (const [shape, dim] of [
    [[3, 5], 1],
    [[2, 3, 4], 1],
    [[2, 70], -1],
    [[1, 150, 2], 1],
  ] as [number[], number][]) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const log of [false, true]) {
      const op = log ? logSoftmax : softmax;
      await gradCheck(
        `${op.name} [${shape}] dim ${dim}`,
        [{ shape, data: randomData(n, 7 * n, -3, 3) }],
        (x) => op(x, dim),
        (x) => softmaxReference(x, shape, dim, log),
      );
    }
  }
});

test('softmax and logSoftmax forward and gradient match PyTorch', async () => {
  const { shape, x, upstream, cases } = fixture.softmax;
  for (const c of cases) {
    const op = c.op === 'softmax' ? softmax : logSoftmax;
    const input = tensor(f32(x), shape, { requiresGrad: true });
    const y = tidy(() => {
      const out = op(input, c.dim);
      out.backward(tensor(f32(upstream), shape));
      return out;
    });
    assertClose(await y.toArray(), c.out, `${c.op} dim ${c.dim} vs PyTorch`, { atol: 1e-6, rtol: 1e-5 });
    assertClose(await input.grad!.toArray(), c.grad, `${c.op} dim ${c.dim} gradient vs PyTorch`, { atol: 1e-6, rtol: 1e-5 });
    y.dispose();
    input.grad!.dispose();
    input.dispose();
  }
});

test('softmax rejects a dim out of range and non-float input, naming the op', () => {
  const x = tensor(f32([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.throws(() => softmax(x, 2), /softmax: dim 2 is out of range for a tensor of shape \[2,3\] \(expected -2\.\.1\)/);
  assert.throws(() => logSoftmax(x, -3), /logSoftmax: dim -3 is out of range/);
  const labels = tensor(Int32Array.of(1, 2));
  assert.throws(() => softmax(labels, 0), /softmax: input must be a float32 tensor, got int32 of shape \[2\]/);
  x.dispose();
  labels.dispose();
});

// ---- crossEntropy ----

test('crossEntropy matches PyTorch: weights, label smoothing, every reduction, and gradients', async () => {
  const ce = fixture.crossEntropy;
  const labels = Int32Array.from(ce.labels);
  for (const c of ce.cases) {
    const what = `crossEntropy eps ${c.labelSmoothing} ${c.reduction}${c.weighted ? ' weighted' : ''}`;
    const logits = tensor(f32(ce.logits), ce.shape, { requiresGrad: true });
    const loss = tidy(() => {
      const out = crossEntropy(logits, labels, {
        labelSmoothing: c.labelSmoothing,
        reduction: c.reduction as Reduction,
        weight: c.weighted ? f32(ce.weight) : undefined,
      });
      out.backward(c.reduction === 'none' ? tensor(f32(ce.rowUpstream), [ce.shape[0]]) : undefined);
      return out;
    });
    assert.equal(loss.shape, c.reduction === 'none' ? [ce.shape[0]] : [], `${what}: shape`);
    assertClose(await loss.toArray(), c.loss, what, { atol: 1e-6, rtol: 1e-5 });
    assertClose(await logits.grad!.toArray(), c.grad, `${what}: gradient`, { atol: 1e-6, rtol: 1e-5 });
    loss.dispose();
    logits.grad!.dispose();
    logits.dispose();
  }
});

test('crossEntropy forward matches the float64 reference (batch 1, one class, many classes, tensor inputs)', async () => {
  const cases: [number, number, CrossEntropyCase][] = [
    [1, 3, { labels: Int32Array.of(2) }],
    [4, 1, { labels: Int32Array.of(0, 0, 0, 0), labelSmoothing: 0.2 }],
    [70, 5, { labels: Int32Array.from({ length: 70 }, (_, i) => (i * 3) % 5), reduction: 'sum', labelSmoothing: 0.05 }],
    [3, 300, { labels: Int32Array.of(299, 0, 150), weight: randomData(300, 3, 0.1, 2), reduction: 'mean', labelSmoothing: 0.1 }],
    [300, 7, { labels: Int32Array.from({ length: 300 }, (_, i) => i % 7), weight: randomData(7, 4, 0.1, 2) }],
  ];
  for (const [rows, classes, options] of cases) {
    const z = randomData(rows * classes, rows + classes, -6, 6);
    const what = `crossEntropy [${rows}, ${classes}] ${JSON.stringify({ ...options, labels: undefined, weight: !!options.weight })}`;
    const got = await run(() =>
      crossEntropy(tensor(f32(z), [rows, classes]), options.labels, {
        ...options,
        weight: options.weight ? tensor(f32(options.weight)) : undefined,
      }),
    );
    assertClose(got, crossEntropyReference(z, classes, options), what, { atol: 1e-5, rtol: 1e-5 });
  }
});

test('crossEntropy gradient (gradCheck) for each reduction, with weights and smoothing', async () => {
  const labels = Int32Array.of(3, 0, 4, 4, 1);
  const weight = randomData(5, 11, 0.2, 1.5);
  for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
    for (const [labelSmoothing, weighted] of [
      [0, false],
      [0.25, true],
    ] as [number, boolean][]) {
      const options: CrossEntropyCase = { labels, labelSmoothing, reduction, weight: weighted ? weight : undefined };
      await gradCheck(
        `crossEntropy ${reduction} eps ${labelSmoothing}${weighted ? ' weighted' : ''}`,
        [{ shape: [5, 5], data: randomData(25, 5, -2, 2) }],
        (z) => crossEntropy(z, labels, { labelSmoothing, reduction, weight: weighted ? f32(weight) : undefined }),
        (z) => crossEntropyReference(z, 5, options),
      );
    }
  }
});

test('crossEntropy rejects host labels out of range before any dispatch, naming label and index', () => {
  const logits = tensor(f32(randomData(14, 1)), [2, 7]);
  const before = recorder.dispatchCount;
  assert.throws(() => crossEntropy(logits, Int32Array.of(0, 7)), /crossEntropy: label 7 at index 1 is outside \[0, 7\)/);
  assert.throws(() => crossEntropy(logits, Int32Array.of(-1, 2)), /crossEntropy: label -1 at index 0 is outside \[0, 7\)/);
  assert.is(recorder.dispatchCount, before, 'no dispatch for invalid labels');
  assert.throws(() => crossEntropy(logits, Int32Array.of(1)), /crossEntropy: 1 labels for logits of 2 rows/);
  assert.throws(() => crossEntropy(logits, Int32Array.of(1, 1), { labelSmoothing: 1.5 }), /labelSmoothing must be in \[0, 1\], got 1.5/);
  assert.throws(() => crossEntropy(logits, Int32Array.of(1, 1), { weight: f32([1, 2]) }), /weight has 2 values, expected one per class \(7\)/);
  assert.throws(
    () => crossEntropy(logits.view([14]), Int32Array.of(1, 1)),
    /crossEntropy: expected logits of shape \[N, C\] with C >= 1, got \[14\]/,
  );
  const badLabels = tensor(f32([1, 2]));
  assert.throws(() => crossEntropy(logits, badLabels), /labels must be an Int32Array of 2 class indices \(one per row\), got a float32 tensor \[2\]$/);
  badLabels.dispose();
  logits.dispose();
});

test('crossEntropy refuses labels on the GPU (their range cannot be checked without a readback), before any dispatch', () => {
  const logits = tensor(f32(randomData(21, 2)), [3, 7]);
  // Label 9 is outside [0, 7): taken as it is, it made row 1's loss and the mean NaN.
  const gpuLabels = tensor(Int32Array.of(1, 9, 2));
  const before = recorder.dispatchCount;
  for (const reduction of ['none', 'mean'] as Reduction[]) {
    assert.throws(
      () => crossEntropy(logits, gpuLabels, { reduction }),
      /crossEntropy: labels must be an Int32Array of 3 class indices \(one per row\), got an int32 tensor \[3\]; labels on the GPU cannot be checked against \[0, 7\) without a readback .*toInt32Array\(\)/,
    );
  }
  assert.throws(() => crossEntropy(logits, [1, 0, 2] as never), /crossEntropy: labels must be an Int32Array of 3 class indices \(one per row\), got an Array$/);
  assert.is(recorder.dispatchCount, before, 'no dispatch for refused labels');
  gpuLabels.dispose();
  logits.dispose();
});

// ---- workgroup memory: race detector ----

function raceReport(source: string, buffers: Record<number, unknown>, constants: Record<string, number | boolean>) {
  return detectRaces(source, 'main', [1, 1, 1], { 0: buffers }, { constants });
}

/** The kernel without the barrier that closes each step of its tree reduction. */
function withoutLoopBarrier(source: string): string {
  const at = source.lastIndexOf('workgroupBarrier();');
  return source.slice(0, at) + source.slice(at + 'workgroupBarrier();'.length);
}

test('softmax and cross-entropy reductions pass the race detector (and it sees a missing barrier)', () => {
  const rows = 5;
  const size = 10;
  const x = () => Float32Array.from(randomData(rows * size, 1));
  const uniforms = { uniform: Uint32Array.of(rows, size, 1, 0) };
  const kernels: [string, string, () => Record<number, unknown>, Record<string, number | boolean>][] = [
    ['softmax_forward', softmaxForwardSource, () => ({ 0: uniforms, 1: x(), 2: new Float32Array(rows * size) }), { THREADS_PER_ROW: 4, LOG: false }],
    ['softmax_backward', softmaxBackwardSource, () => ({ 0: uniforms, 1: x(), 2: x(), 3: new Float32Array(rows * size) }), { THREADS_PER_ROW: 8, LOG: true }],
    [
      'cross_entropy_reduce',
      reduceSource,
      () => ({ 0: { uniform: Uint32Array.of(300, 3, 0, 0) }, 1: new Float32Array(300), 2: new Int32Array(300), 3: new Float32Array(3), 4: new Float32Array(1), 5: new Float32Array(1) }),
      { MEAN: true },
    ],
  ];
  for (const [name, source, buffers, constants] of kernels) {
    const clean = raceReport(source, buffers(), constants);
    assert.equal(clean.errors, [], `${name}: detector errors`);
    assert.equal(clean.races.map((r) => r.message), [], `${name}: races`);
    const broken = raceReport(withoutLoopBarrier(source), buffers(), constants);
    assert.ok(broken.races.length > 0, `${name}: the detector misses a removed barrier`);
  }
});

test('crossEntropy frees its temporaries, with and without a backward pass', () => {
  const logits = tensor(f32(randomData(6, 9)), [2, 3], { requiresGrad: true });
  const inUse = pool.memory().buffersInUse;
  noGrad(() => crossEntropy(logits, Int32Array.of(0, 2), { labelSmoothing: 0.1 })).dispose();
  assert.is(pool.memory().buffersInUse, inUse, 'no-grad forward');
  const loss = crossEntropy(logits, Int32Array.of(0, 2), { labelSmoothing: 0.1, reduction: 'sum' });
  loss.backward();
  loss.dispose();
  logits.grad!.dispose();
  assert.is(pool.memory().buffersInUse, inUse, 'forward and backward');
  logits.dispose();
});

test.run();
