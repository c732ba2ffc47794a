import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectRaces } from 'wgsl_reflect/wgsl_reflect.module.js';
import { assertClose, gradCheck, kernelsDispatched, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { noGrad } from '../src/engine/autograd.js';
import { tidy } from '../src/engine/scope.js';
import { batchNorm2d } from '../src/kernels/batchnorm/index.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import {
  batchNormEvalBackwardRef,
  batchNormTrainBackwardRef,
  batchNormTrainRef,
  channelStatsRef,
  normalizeRef,
  updateRunningRef,
  type Shape4,
} from './reference/batchnorm.js';
import fixtures from './fixtures/batchnorm_pool.json';
import statsSource from '../shaders/batchnorm/stats.wgsl';
import gradSumsSource from '../shaders/batchnorm/grad_sums.wgsl';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f32 = (data: ArrayLike<number>) => Float64Array.from(Float32Array.from(data));
const upload = (data: ArrayLike<number>, shape: readonly number[]) => tensor(Float32Array.from(data), shape);

/** Per-channel offset and spread: a mean far from 0 relative to the spread tests the statistics' stability. */
function channelData(shape: Shape4, seed: number): Float64Array {
  const [, c, h, w] = shape;
  const data = randomData(size(shape), seed);
  return f32(data.map((v, i) => {
    const ch = Math.floor(i / (h * w)) % c;
    return [40, -3, 0.5, 7, -0.25][ch % 5] + v * [0.5, 2, 1, 0.1, 3][ch % 5];
  }));
}

// Odd sizes; batch 1 with one channel; 1x1 planes; more than 256 elements per channel (several per invocation).
const shapes: Shape4[] = [
  [2, 3, 5, 7],
  [1, 1, 3, 5],
  [4, 5, 1, 1],
  [3, 2, 13, 11],
];

test('training forward and running statistics over several steps match the float64 reference', async () => {
  for (const shape of shapes) {
    const c = shape[1];
    const weight = f32(randomData(c, 11));
    const bias = f32(randomData(c, 12));
    const refMean = f32(randomData(c, 13));
    const refVar = f32(randomData(c, 14, 0.5, 2));
    const [runningMean, runningVar] = [upload(refMean, [c]), upload(refVar, [c])];
    const [w, b] = [upload(weight, [c]), upload(bias, [c])];
    for (let step = 0; step < 3; step++) {
      const x = channelData(shape, 20 + step);
      const y = await run(() => batchNorm2d(upload(x, shape), runningMean, runningVar, w, b, { training: true, momentum: 0.2, eps: 1e-3 }));
      assertClose(y, batchNormTrainRef(x, shape, weight, bias, 1e-3), `batchNorm2d train [${shape}] step ${step}`, { atol: 1e-4 });
      updateRunningRef(refMean, refVar, x, shape, 0.2);
    }
    assertClose(await runningMean.toArray(), refMean, `running mean [${shape}]`);
    assertClose(await runningVar.toArray(), refVar, `running var [${shape}]`);
    for (const t of [runningMean, runningVar, w, b]) t.dispose();
  }
});

// PCNN's shapes in miniature: a large batch of small planes whose size is odd (a vec4 spans channels and
// the last one is partial) or a multiple of 4 (a vec4 per channel), a plane longer than the elementwise
// kernel's stride between one invocation's vec4s (1024) and than a reduction workgroup (64); several
// elementwise workgroups.
const flatShapes: Shape4[] = [
  [65, 3, 5, 7],
  [40, 7, 1, 3],
  [33, 6, 2, 2],
  [3, 2, 33, 32],
];

/** Runs batchNorm2d forward and backward (upstream dy); returns y and the three gradients. */
async function forwardBackward(
  shape: Shape4,
  x: Float64Array,
  dy: Float64Array,
  stats: { mean: Tensor; variance: Tensor },
  weight: Float64Array,
  bias: Float64Array,
  training: boolean,
): Promise<Float32Array[]> {
  const c = shape[1];
  const input = tensor(Float32Array.from(x), shape, { requiresGrad: true });
  const w = tensor(Float32Array.from(weight), [c], { requiresGrad: true });
  const b = tensor(Float32Array.from(bias), [c], { requiresGrad: true });
  const y = tidy(() => {
    const out = batchNorm2d(input, stats.mean, stats.variance, w, b, { training, momentum: 0.3, eps: 1e-3 });
    out.backward(upload(dy, shape));
    return out;
  });
  const results = [await y.toArray(), await input.grad!.toArray(), await w.grad!.toArray(), await b.grad!.toArray()];
  for (const t of [y, input.grad!, input, w.grad!, w, b.grad!, b]) t.dispose();
  return results;
}

test('large batches of small planes: forward, running statistics and backward, training and eval, against float64', async () => {
  for (const [k, shape] of flatShapes.entries()) {
    const c = shape[1];
    const x = channelData(shape, 100 + k);
    const dy = f32(randomData(size(shape), 110 + k));
    const weight = f32(randomData(c, 120 + k));
    const bias = f32(randomData(c, 130 + k));
    const refMean = f32(randomData(c, 140 + k));
    const refVar = f32(randomData(c, 150 + k, 0.5, 2));
    const stats = { mean: upload(refMean, [c]), variance: upload(refVar, [c]) };
    const what = `[${shape}]`;

    const [y, gradInput, gradWeight, gradBias] = await forwardBackward(shape, x, dy, stats, weight, bias, true);
    assertClose(y, batchNormTrainRef(x, shape, weight, bias, 1e-3), `train ${what}: output`, { atol: 1e-4 });
    const train = batchNormTrainBackwardRef(x, dy, shape, weight, 1e-3);
    assertClose(gradInput, train.gradInput, `train ${what}: input gradient`, { atol: 1e-4 });
    assertClose(gradWeight, train.gradWeight, `train ${what}: weight gradient`, { atol: 1e-4 });
    assertClose(gradBias, train.gradBias, `train ${what}: bias gradient`, { atol: 1e-4 });
    updateRunningRef(refMean, refVar, x, shape, 0.3);
    assertClose(await stats.mean.toArray(), refMean, `train ${what}: running mean`);
    assertClose(await stats.variance.toArray(), refVar, `train ${what}: running var`);

    const [yEval, gradInputEval, gradWeightEval, gradBiasEval] = await forwardBackward(shape, x, dy, stats, weight, bias, false);
    assertClose(yEval, normalizeRef(x, shape, refMean, refVar, weight, bias, 1e-3), `eval ${what}: output`, { atol: 1e-4 });
    const evalRef = batchNormEvalBackwardRef(x, dy, shape, refMean, refVar, weight, 1e-3);
    assertClose(gradInputEval, evalRef.gradInput, `eval ${what}: input gradient`, { atol: 1e-4 });
    assertClose(gradWeightEval, evalRef.gradWeight, `eval ${what}: weight gradient`, { atol: 1e-4 });
    assertClose(gradBiasEval, evalRef.gradBias, `eval ${what}: bias gradient`, { atol: 1e-4 });
    stats.mean.dispose();
    stats.variance.dispose();
  }
});

test('eval forward uses the running statistics; weight and bias may be absent', async () => {
  const shape: Shape4 = [2, 3, 4, 5];
  const x = channelData(shape, 30);
  const mean = f32(randomData(3, 31));
  const variance = f32(randomData(3, 32, 0.1, 3));
  const weight = f32(randomData(3, 33));
  const bias = f32(randomData(3, 34));
  const [m, v, w, b] = [upload(mean, [3]), upload(variance, [3]), upload(weight, [3]), upload(bias, [3])];
  const y = await run(() => batchNorm2d(upload(x, shape), m, v, w, b));
  assertClose(y, normalizeRef(x, shape, mean, variance, weight, bias, 1e-5), 'batchNorm2d eval', { atol: 1e-4 });
  const bare = await run(() => batchNorm2d(upload(x, shape), m, v, null, null, { eps: 0.5 }));
  assertClose(bare, normalizeRef(x, shape, mean, variance, null, null, 0.5), 'batchNorm2d eval without affine', { atol: 1e-4 });
  const unchanged = await m.toArray();
  assertClose(unchanged, mean, 'eval leaves the running mean alone', { atol: 0, rtol: 0 });
  for (const t of [m, v, w, b]) t.dispose();
});

test('gradCheck in training mode: input, weight and bias (batch 1, one channel, 1x1 planes too)', async () => {
  const cases: Shape4[] = [[2, 3, 3, 5], [1, 1, 4, 3], [3, 2, 1, 1]];
  for (const shape of cases) {
    const c = shape[1];
    const inputs = [
      { shape: [...shape], data: f32(randomData(size(shape), 40)) },
      { shape: [c], data: f32(randomData(c, 41)) },
      { shape: [c], data: f32(randomData(c, 42)) },
    ];
    await gradCheck(
      `batchNorm2d train [${shape}]`,
      inputs,
      (x, w, b) => batchNorm2d(x, null, null, w, b, { training: true }),
      (x, w, b) => batchNormTrainRef(x, shape, w, b, 1e-5),
    );
  }
  // Only the input needs a gradient, then only the affine parameters.
  const shape: Shape4 = [2, 2, 3, 3];
  const inputs = [
    { shape: [...shape], data: f32(randomData(size(shape), 43)) },
    { shape: [2], data: f32(randomData(2, 44)) },
    { shape: [2], data: f32(randomData(2, 45)) },
  ];
  const op = (x: Tensor, w: Tensor, b: Tensor) => batchNorm2d(x, null, null, w, b, { training: true });
  const reference = (x: Float64Array, w: Float64Array, b: Float64Array) => batchNormTrainRef(x, shape, w, b, 1e-5);
  await gradCheck('batchNorm2d train, input only', inputs, op, reference, { skip: [1, 2] });
  await gradCheck('batchNorm2d train, affine only', inputs, op, reference, { skip: [0] });
  await gradCheck(
    'batchNorm2d train without affine',
    inputs.slice(0, 1),
    (x) => batchNorm2d(x, null, null, null, null, { training: true }),
    (x) => batchNormTrainRef(x, shape, null, null, 1e-5),
  );
});

test('fused residual and ReLU: relu(bn(x) + r), forward and gradCheck of x, weight, bias and r, training and eval', async () => {
  const shape: Shape4 = [2, 3, 3, 5];
  const c = shape[1];
  const inputs = [
    { shape: [...shape], data: f32(randomData(size(shape), 60)) },
    { shape: [c], data: f32(randomData(c, 61)) },
    { shape: [c], data: f32(randomData(c, 62)) },
    { shape: [...shape], data: f32(randomData(size(shape), 63)) },
  ];
  const mean = f32(randomData(c, 64));
  const variance = f32(randomData(c, 65, 0.5, 2));
  const tail = (y: Float64Array, r: Float64Array | null, relu: boolean) =>
    y.map((v, i) => (relu ? Math.max(v + (r ? r[i] : 0), 0) : v + (r ? r[i] : 0)));
  for (const training of [true, false]) {
    for (const [withResidual, relu] of [[true, true], [false, true], [true, false]] as const) {
      const what = `batchNorm2d ${training ? 'train' : 'eval'}${withResidual ? ' + residual' : ''}${relu ? ', relu' : ''}`;
      const normalized = (x: Float64Array, w: Float64Array, b: Float64Array) =>
        training ? batchNormTrainRef(x, shape, w, b, 1e-5) : normalizeRef(x, shape, mean, variance, w, b, 1e-5);
      const op = (x: Tensor, w: Tensor, b: Tensor, r: Tensor) =>
        batchNorm2d(x, training ? null : upload(mean, [c]), training ? null : upload(variance, [c]), w, b, {
          training,
          residual: withResidual ? r : null,
          relu,
        });
      const reference = (x: Float64Array, w: Float64Array, b: Float64Array, r: Float64Array) =>
        tail(normalized(x, w, b), withResidual ? r : null, relu);
      const y = await run(() => noGrad(() => op(...inputs.map((t) => upload(t.data, t.shape)) as [Tensor, Tensor, Tensor, Tensor])));
      assertClose(y, reference(...(inputs.map((t) => t.data) as [Float64Array, Float64Array, Float64Array, Float64Array])), `${what}: forward`);
      await gradCheck(what, inputs, op, reference, { skip: withResidual ? [] : [3] });
    }
  }
});

test('fused ReLU without affine gradients (eval, weight and bias null): gradCheck of x and the residual', async () => {
  // The sums pass does not run here: the ReLU's mask goes into the scale pass, or, where the residual
  // needs the masked gradient, into a pass of its own.
  const shape: Shape4 = [2, 3, 2, 5];
  const c = shape[1];
  const mean = f32(randomData(c, 70));
  const variance = f32(randomData(c, 71, 0.5, 2));
  const [m, v] = [upload(mean, [c]), upload(variance, [c])];
  const inputs = [
    { shape: [...shape], data: f32(randomData(size(shape), 72)) },
    { shape: [...shape], data: f32(randomData(size(shape), 73)) },
  ];
  const reference = (x: Float64Array, r: Float64Array | null) =>
    normalizeRef(x, shape, mean, variance, null, null, 1e-5).map((y, i) => Math.max(y + (r ? r[i] : 0), 0));
  await gradCheck('eval, relu', inputs.slice(0, 1), (x) => batchNorm2d(x, m, v, null, null, { relu: true }), (x) => reference(x, null));
  await gradCheck(
    'eval, residual, relu',
    inputs,
    (x, r) => batchNorm2d(x, m, v, null, null, { residual: r, relu: true }),
    (x, r) => reference(x, r),
  );
  for (const t of [m, v]) t.dispose();
});

test('fused ReLU: its mask is applied inside the batch norm backward passes (no separate masking pass)', async () => {
  const shape: Shape4 = [4, 8, 3, 3];
  for (const withResidual of [false, true]) {
    const x = upload(randomData(size(shape), 80), shape);
    const r = upload(randomData(size(shape), 81), shape);
    const w = upload(randomData(8, 82), [8]);
    const b = upload(randomData(8, 83), [8]);
    for (const t of [x, r, w, b]) t.requiresGrad = true;
    const y = batchNorm2d(x, null, null, w, b, { training: true, relu: true, residual: withResidual ? r : null });
    const g = upload(randomData(size(shape), 84), shape);
    const names = await kernelsDispatched(() => y.backward(g));
    for (const t of [x, r, w, b]) t.grad?.dispose();
    for (const t of [x, r, w, b, y, g]) t.dispose();
    assert.equal(names, ['batchnorm_grad_sums', 'batchnorm_affine'], `with${withResidual ? '' : 'out'} a residual`);
  }
});

test('gradCheck in eval mode: a per-channel affine map of the input', async () => {
  const shape: Shape4 = [2, 3, 3, 4];
  const mean = f32(randomData(3, 50));
  const variance = f32(randomData(3, 51, 0.2, 2));
  const [m, v] = [upload(mean, [3]), upload(variance, [3])];
  const inputs = [
    { shape: [...shape], data: f32(randomData(size(shape), 52)) },
    { shape: [3], data: f32(randomData(3, 53)) },
    { shape: [3], data: f32(randomData(3, 54)) },
  ];
  await gradCheck(
    'batchNorm2d eval',
    inputs,
    (x, w, b) => batchNorm2d(x, m, v, w, b),
    (x, w, b) => normalizeRef(x, shape, mean, variance, w, b, 1e-5),
  );
  for (const t of [m, v]) t.dispose();
});

test('the eval-mode backward uses the statistics of its forward, not those of a later training step', async () => {
  const shape: Shape4 = [1, 2, 2, 3];
  const x = f32(randomData(size(shape), 60));
  const mean = f32([0.5, -1]);
  const variance = f32([2, 0.5]);
  const [m, v] = [upload(mean, [2]), upload(variance, [2])];
  const input = tensor(Float32Array.from(x), shape, { requiresGrad: true });
  const gradient = tidy(() => {
    const y = batchNorm2d(input, m, v, null, null);
    noGrad(() => batchNorm2d(upload(channelData(shape, 61), shape), m, v, null, null, { training: true, momentum: 1 }));
    y.backward(upload(new Float32Array(y.size).fill(1), y.shape));
    return input.grad!;
  });
  const expected = Float64Array.from(x, (_, i) => 1 / Math.sqrt(variance[Math.floor(i / 6)] + 1e-5));
  assertClose(await gradient.toArray(), expected, 'eval gradient with the saved running variance');
  for (const t of [m, v, gradient, input]) t.dispose();
});

test('BatchNorm2d matches PyTorch over training steps (outputs, gradients, running statistics) and in eval', async () => {
  const f = fixtures.batchNorm;
  const bn = new BatchNorm2d(3, { momentum: f.momentum, eps: f.eps });
  bn.loadStateDict({ weight: { shape: [3], data: f.weight }, bias: { shape: [3], data: f.bias } }, { strict: false });
  const check = async (c: typeof f.eval, what: string) => {
    const x = tensor(Float32Array.from(c.x), c.shape, { requiresGrad: true });
    const y = tidy(() => {
      const out = bn.forward(x);
      out.backward(upload(c.upstream, c.shape));
      return out;
    });
    assertClose(await y.toArray(), c.y, `${what}: output`, { atol: 1e-4 });
    assertClose(await x.grad!.toArray(), c.gradInput, `${what}: input gradient`, { atol: 1e-4 });
    assertClose(await bn.weight!.grad!.toArray(), c.gradWeight, `${what}: weight gradient`, { atol: 1e-4 });
    assertClose(await bn.bias!.grad!.toArray(), c.gradBias, `${what}: bias gradient`, { atol: 1e-4 });
    for (const t of [y, x.grad!, x, bn.weight!.grad!, bn.bias!.grad!]) t.dispose();
    bn.weight!.grad = bn.bias!.grad = null;
  };
  for (const [i, step] of f.steps.entries()) {
    await check(step, `training step ${i} [${step.shape}]`);
    assertClose(await bn.runningMean!.toArray(), step.runningMean, `step ${i}: running mean`);
    assertClose(await bn.runningVar!.toArray(), step.runningVar, `step ${i}: running var`);
  }
  assert.is(await bn.numBatchesTracked!.item(), f.numBatchesTracked);
  bn.eval();
  await check(f.eval, 'eval');
  assert.is(await bn.numBatchesTracked!.item(), f.numBatchesTracked, 'eval does not count batches');
  bn.dispose();
});

test('BatchNorm2d state: PyTorch names, shapes and initial values; num_batches_tracked loads from any 1-element data', async () => {
  const bn = new BatchNorm2d(4);
  const state = bn.stateDict();
  assert.equal(Object.keys(state), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  assert.equal(state.num_batches_tracked.shape, []);
  assert.is(state.num_batches_tracked.dtype, 'int32');
  assert.equal([...(await state.weight.toArray())], [1, 1, 1, 1]);
  assert.equal([...(await state.bias.toArray())], [0, 0, 0, 0]);
  assert.equal([...(await state.running_mean.toArray())], [0, 0, 0, 0]);
  assert.equal([...(await state.running_var.toArray())], [1, 1, 1, 1]);
  assert.equal(bn.namedParameters().map(([name]) => name), ['weight', 'bias']);
  // A PyTorch checkpoint's int64 count, as a reader would hand it over (a 0-d tensor's one number).
  bn.loadStateDict({ num_batches_tracked: { shape: [], data: Float64Array.of(7) } }, { strict: false });
  tidy(() => bn.forward(upload(randomData(2 * 4 * 3, 70), [2, 4, 3, 1])));
  assert.is(await bn.numBatchesTracked!.item(), 8);
  bn.dispose();
});

test('BatchNorm2d without running statistics uses batch statistics in eval too; without affine it has no parameters', async () => {
  const shape: Shape4 = [2, 2, 3, 3];
  const x = channelData(shape, 80);
  const untracked = new BatchNorm2d(2, { trackRunningStats: false }).eval();
  assert.equal(Object.keys(untracked.stateDict()), ['weight', 'bias']);
  const y = await run(() => untracked.forward(upload(x, shape)));
  assertClose(y, batchNormTrainRef(x, shape, null, null, 1e-5), 'untracked eval', { atol: 1e-4 });
  const plain = new BatchNorm2d(2, { affine: false, eps: 0.1 });
  assert.equal(plain.parameters(), []);
  assert.equal(Object.keys(plain.stateDict()), ['running_mean', 'running_var', 'num_batches_tracked']);
  const z = await run(() => plain.forward(upload(x, shape)));
  assertClose(z, batchNormTrainRef(x, shape, null, null, 0.1), 'no affine', { atol: 1e-4 });
  untracked.dispose();
  plain.dispose();
});

test('bad batch norm arguments are errors naming the op, the shapes and what was expected', () => {
  const x = upload(new Float32Array(2 * 3 * 2 * 2), [2, 3, 2, 2]);
  const [three, two] = [upload([1, 1, 1], [3]), upload([1, 1], [2])];
  assert.throws(() => batchNorm2d(x, two, two, null, null), /batchNorm2d: runningMean must have shape \[3\] \(one value per channel of input \[2,3,2,2\]\), got \[2\]/);
  assert.throws(() => batchNorm2d(x, three, null, null, null, { training: true }), /batchNorm2d: runningMean and runningVar must be given together/);
  assert.throws(() => batchNorm2d(x, null, null, three, three), /batchNorm2d: eval mode \(training: false\) needs runningMean and runningVar/);
  assert.throws(() => batchNorm2d(x.view([2, 3, 4]), three, three, null, null), /batchNorm2d: expected a 4-D input \(N, C, H, W\), got shape \[2,3,4\]/);
  assert.throws(
    () => batchNorm2d(x, null, null, null, null, { training: true, batchCount: three }),
    /batchNorm2d: batchCount must be a one-element int32 tensor, got float32 \[3\]/,
  );
  const single = upload([1, 2, 3], [1, 3, 1, 1]);
  assert.throws(() => batchNorm2d(single, null, null, null, null, { training: true }), /batchNorm2d: expected more than 1 value per channel when training, got input \[1,3,1,1\]/);
  assert.throws(() => new BatchNorm2d(3).forward(upload(new Float32Array(8), [2, 2, 2, 1])), /BatchNorm2d\(3\): input \[2,2,2,1\] has 2 channels/);
  for (const t of [x, three, two, single]) t.dispose();
});

/** detectRaces over `workgroups`, and a control: without its barriers the first workgroup must race. Returns the
 *  storage buffers of the clean run by binding (1, 2, ...), as wgsl_reflect's interpreter left them. */
function raceCheck(
  source: string,
  workgroups: number,
  storage: ArrayBuffer[],
  uniforms: ArrayBuffer,
  constants: Record<string, number>,
): ArrayBuffer[] {
  const bindGroups = () => ({ 0: Object.fromEntries([[0, { uniform: uniforms }], ...storage.map((b, i) => [i + 1, b.slice(0)])]) });
  const buffers = bindGroups();
  const clean = detectRaces(source, 'main', [workgroups, 1, 1], buffers, { constants });
  assert.equal(clean.errors, []);
  assert.equal(clean.races.map((r) => r.message), []);
  const unsynchronised = detectRaces(source.replaceAll('workgroupBarrier();', ''), 'main', [1, 1, 1], bindGroups(), { constants });
  assert.ok(unsynchronised.races.length > 0, 'the detector sees the race once the barriers are gone');
  return storage.map((_, i) => buffers[0][i + 1] as ArrayBuffer);
}

test('the workgroup-memory reductions pass the race detector and compute the right sums when interpreted', () => {
  const cases: { shape: Shape4; lanes: number; workgroups: number }[] = [
    // 175 elements per channel, one channel per workgroup: each of the 64 invocations steps through several
    // (batch, position) pairs, with carries into the next batch entry.
    { shape: [5, 2, 5, 7], lanes: 64, workgroups: 2 },
    // 18 elements per channel over 8 invocations, 8 channel slots per workgroup of which 5 are past the last
    // channel; each step crosses batch entries (2 whole planes and 2 positions).
    { shape: [6, 3, 1, 3], lanes: 8, workgroups: 1 },
  ];
  const eps = 1e-3;
  const momentum = 0.25;
  const floats = (values: ArrayLike<number>) => Float32Array.from(values).buffer;
  const words = (...values: number[]) => new Uint32Array(values).buffer;
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  for (const { shape, lanes, workgroups } of cases) {
    const [n, c, h, w] = shape;
    const what = `[${shape}], ${lanes} lanes`;
    const x = channelData(shape, 90);
    const dy = f32(randomData(size(shape), 91));
    const weight = f32(randomData(c, 92));
    const bias = f32(randomData(c, 93));
    const running = { mean: f32(randomData(c, 94)), variance: f32(randomData(c, 95, 0.5, 2)) };
    const perChannel = n * h * w;
    const channelsBytes = () => new ArrayBuffer(4 * c);

    // stats: x, weight, bias, table, runningMean, runningVar, batchCount; uniforms channels, planeSize, batch,
    // eps, momentum, unbias, channelsPerCount.
    const [, , , table, runningMean, runningVar, batchCount] = raceCheck(
      statsSource,
      workgroups,
      [floats(x), floats(weight), floats(bias), new ArrayBuffer(16 * c), floats(running.mean), floats(running.variance), words(7)],
      words(c, h * w, n, bits(eps), bits(momentum), bits(perChannel / (perChannel - 1)), c),
      { UPDATE_RUNNING: 1, COUNT_BATCH: 1, LANES: lanes },
    );
    const ref = channelStatsRef(x, shape);
    const invstd = Float64Array.from(ref.variance, (v) => 1 / Math.sqrt(v + eps));
    const channels = [...Array(c).keys()];
    const tableRef = channels.flatMap((k) => [ref.mean[k], invstd[k] * weight[k], bias[k], invstd[k]]);
    assertClose(new Float32Array(table), tableRef, `${what}: interpreted statistics table`);
    const runningRef = { mean: running.mean.slice(), variance: running.variance.slice() };
    updateRunningRef(runningRef.mean, runningRef.variance, x, shape, momentum);
    assertClose(new Float32Array(runningMean), runningRef.mean, `${what}: interpreted running mean`);
    assertClose(new Float32Array(runningVar), runningRef.variance, `${what}: interpreted running var`);
    assert.is(new Int32Array(batchCount)[0], 8, `${what}: interpreted batch count`);

    // grad_sums: x, dy, saved, gradWeight, gradBias, gradTable; uniforms channels, planeSize, batch.
    const [, , , gradWeight, gradBias, gradTable] = raceCheck(
      gradSumsSource,
      workgroups,
      [floats(x), floats(dy), floats(tableRef), channelsBytes(), channelsBytes(), new ArrayBuffer(16 * c)],
      words(c, h * w, n),
      { TRAINING: 1, LANES: lanes },
    );
    const grads = batchNormTrainBackwardRef(x, dy, shape, weight, eps);
    assertClose(new Float32Array(gradWeight), grads.gradWeight, `${what}: interpreted weight gradient`, { atol: 1e-4 });
    assertClose(new Float32Array(gradBias), grads.gradBias, `${what}: interpreted bias gradient`, { atol: 1e-4 });
    const gradTableRef = channels.flatMap((k) => {
      const scale = weight[k] * invstd[k];
      return [grads.gradBias[k] / perChannel, scale, ref.mean[k], (-scale * invstd[k] * grads.gradWeight[k]) / perChannel];
    });
    assertClose(new Float32Array(gradTable), gradTableRef, `${what}: interpreted input-gradient table`, { atol: 1e-4 });
  }
});

test('momentum null averages batches equally (from resetRunningStats); withStatistics lends and updates another set', async () => {
  const shape: Shape4 = [3, 2, 2, 3];
  const batches = [0, 1, 2].map((i) => channelData(shape, 90 + i));
  const meanOfBatches = (pick: (s: { mean: Float64Array; unbiased: Float64Array }) => Float64Array, xs: Float64Array[]) => {
    const stats = xs.map((x) => {
      const { mean, variance } = channelStatsRef(x, shape);
      const count = shape[0] * shape[2] * shape[3];
      return { mean, unbiased: variance.map((v) => (v * count) / (count - 1)) };
    });
    return Float64Array.from({ length: shape[1] }, (_, ch) => stats.reduce((a, s) => a + pick(s)[ch], 0) / stats.length);
  };
  const bn = new BatchNorm2d(2, { momentum: null });
  bn.loadStateDict({ running_mean: { shape: [2], data: [5, 5] }, num_batches_tracked: { shape: [], data: [9] } }, { strict: false });
  bn.resetRunningStats();
  for (const x of batches.slice(0, 2)) tidy(() => void bn.forward(upload(x, shape)));
  const lent = bn.newStatistics();
  bn.withStatistics(lent, () => tidy(() => void bn.forward(upload(batches[2], shape))));
  assertClose(await bn.runningMean!.toArray(), meanOfBatches((s) => s.mean, batches.slice(0, 2)), 'own mean, two batches');
  assertClose(await bn.runningVar!.toArray(), meanOfBatches((s) => s.unbiased, batches.slice(0, 2)), 'own variance, two batches');
  assert.is(await bn.numBatchesTracked!.item(), 2, 'a lent set does not count in num_batches_tracked');
  assertClose(await lent.mean.toArray(), meanOfBatches((s) => s.mean, [batches[2]]), 'lent mean');
  assertClose(await lent.variance.toArray(), meanOfBatches((s) => s.unbiased, [batches[2]]), 'lent variance');
  // Eval mode inside withStatistics normalises with the lent set.
  bn.eval();
  const x = channelData(shape, 99);
  const y = await run(() => bn.withStatistics(lent, () => bn.forward(upload(x, shape))));
  const [m, v] = [f32(await lent.mean.toArray()), f32(await lent.variance.toArray())];
  assertClose(y, normalizeRef(x, shape, m, v, null, null, 1e-5), 'eval with the lent set', { atol: 1e-5 });
  assertClose(await bn.runningMean!.toArray(), meanOfBatches((s) => s.mean, batches.slice(0, 2)), 'own set back after withStatistics');
  lent.mean.dispose();
  lent.variance.dispose();
  bn.dispose();
});

test.run();
