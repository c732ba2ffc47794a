import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, markedBlock, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { manualSeed } from '../src/engine/random.js';
import {
  conv2d,
  conv2dFused,
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dBackwardBias,
  foldBatchNorm,
  chooseBackwardDataVariant,
  chooseBackwardWeightVariant,
  type BackwardVariant,
  type ForwardVariant,
} from '../src/kernels/conv2d/index.js';
import { weightGradChunks, weightGradRowsSplit } from '../src/kernels/conv2d/backward_weight.js';
import { conv2dGeometry } from '../src/kernels/conv2d/geometry.js';
import { conv2dTuning, preferRows, preferRowsForWeightGrad, tuningFor } from '../src/kernels/conv2d/tuning.js';
import { SHARED_LANES, sharedLoadsRun } from '../src/kernels/subgroups.js';
import { wgslConstants } from '../src/engine/kernel.js';
import { chooseForwardVariant, fallbackForwardVariant, supportsVariant } from '../src/kernels/conv2d/forward.js';
import { denseDoesLess } from '../src/kernels/conv2d/dense.js';
import { Conv2d } from '../src/nn/conv.js';
import {
  conv2dBiasGradRef,
  conv2dInputGradRef,
  conv2dRef,
  conv2dWeightGradRef,
  outShape,
  type ConvSpec,
} from './reference/conv2d.js';
import fixture from './fixtures/conv2d.json';
import forwardRowsSource from '../shaders/conv2d/forward_rows.wgsl';
import backwardDataRowsSource from '../shaders/conv2d/backward_data_rows.wgsl';
import backwardWeightRowsSource from '../shaders/conv2d/backward_weight_rows.wgsl';
import matmulRegistersSource from '../shaders/matmul/registers.wgsl';
import attentionForwardSharedSource from '../shaders/attention/attention_forward_shared.wgsl';
import attentionQuerySharedSource from '../shaders/attention/attention_backward_query_shared.wgsl';
import attentionKeySharedSource from '../shaders/attention/attention_backward_key_shared.wgsl';

type P = number | [number, number];
const pair = (v: P): [number, number] => (typeof v === 'number' ? [v, v] : v);
function spec(xShape: number[], wShape: number[], stride: P = 1, padding: P = 0, dilation: P = 1, groups = 1): ConvSpec {
  return { xShape, wShape, stride: pair(stride), padding: pair(padding), dilation: pair(dilation), groups };
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const f32 = (data: ArrayLike<number>, shape: number[], requiresGrad = false) =>
  tensor(Float32Array.from(data), shape, { requiresGrad });
const options = (s: ConvSpec) => ({ stride: s.stride, padding: s.padding, dilation: s.dilation, groups: s.groups });
const VARIANTS: ForwardVariant[] = ['1x1', 'gemm', 'rows', 'direct', 'dense'];
const WINDOW_BACKWARD_VARIANTS: BackwardVariant[] = ['tiles', 'rows'];
const BACKWARD_VARIANTS: BackwardVariant[] = [...WINDOW_BACKWARD_VARIANTS, 'dense'];

// Shapes chosen to hit the kernels' edges: odd sizes, ragged pixel tiles and channel blocks, batch 1,
// one channel, strides with odd inputs, padding beyond the kernel's half, dilation, groups, pairs.
const FORWARD_CASES: [string, ConvSpec][] = [
  ['3x3 s1 p1, odd sizes', spec([2, 3, 7, 9], [5, 3, 3, 3], 1, 1)],
  ['3x3 s2 p1, odd input', spec([1, 4, 11, 9], [6, 4, 3, 3], 2, 1)],
  ['3x3 p2 (padding beyond the half)', spec([2, 2, 5, 6], [3, 2, 3, 3], 1, 2)],
  ['3x3 d2 p2', spec([1, 3, 9, 10], [4, 3, 3, 3], 1, 2, 2)],
  ['3x3 groups 2', spec([2, 4, 6, 7], [6, 2, 3, 3], 1, 1, 1, 2)],
  ['depthwise 3x3 s2', spec([1, 5, 7, 7], [5, 1, 3, 3], 2, 1, 1, 5)],
  ['batch 1, one channel in and out', spec([1, 1, 5, 5], [1, 1, 3, 3], 1, 1)],
  ['3x2 s(2,1) p(1,0) d(1,2)', spec([2, 3, 8, 9], [7, 3, 3, 2], [2, 1], [1, 0], [1, 2])],
  ['7x7 s2 p3 stem, 3 channels', spec([2, 3, 13, 11], [9, 3, 7, 7], 2, 3)],
  ['7x7 s2 p3 stem, 1 channel', spec([1, 1, 10, 12], [8, 1, 7, 7], 2, 3)],
  ['1x1 s1', spec([2, 6, 5, 7], [9, 6, 1, 1])],
  ['1x1 s2, odd input', spec([2, 5, 7, 9], [6, 5, 1, 1], 2)],
  ['1x1 groups 3', spec([1, 6, 3, 5], [9, 2, 1, 1], 1, 0, 1, 3)],
  ['1x13 d4: taps in two register chunks', spec([1, 2, 3, 53], [5, 2, 1, 13], 1, [0, 1], [1, 4])],
  ['2x2 s16: beyond the gemm segment', spec([1, 2, 33, 35], [3, 2, 2, 2], 16)],
  // Flattened rows: several workgroups of row blocks, a ragged last block, 9 channels (8 + 1).
  ['3x3 p1, 330 rows, 9 channels', spec([3, 2, 11, 10], [9, 2, 3, 3], 1, 1)],
  // 1x2 and 1x1 maps under a 3x3 window: only the used taps are visited.
  ['3x3 p1 on 1x2 maps', spec([5, 4, 1, 2], [6, 4, 3, 3], 1, 1)],
  ['3x3 s2 p1 on 1x1 maps', spec([3, 3, 1, 1], [4, 3, 3, 3], 2, 1)],
];

function inputs(s: ConvSpec, seed: number) {
  return {
    x: randomData(size(s.xShape), seed),
    w: randomData(size(s.wShape), seed + 1),
    b: randomData(s.wShape[0], seed + 2),
  };
}

test('forward matches the float64 reference, every variant on every shape it supports', async () => {
  let runs = 0;
  let windowRuns = 0;
  for (const [name, s] of FORWARD_CASES) {
    const { x, w, b } = inputs(s, runs);
    const g = conv2dGeometry(s.xShape, s.wShape, options(s));
    for (const variant of VARIANTS.filter((v) => supportsVariant(g, v))) {
      // Bias on every other run of a window kernel: each sees both, with half the pipelines to compile
      // ('dense' has no fused bias).
      const withBias = variant !== 'dense' && windowRuns++ % 2 === 1;
      const got = await run(() =>
        conv2d(f32(x, s.xShape), f32(w, s.wShape), withBias ? f32(b, [b.length]) : null, { ...options(s), variant }),
      );
      assertClose(got, conv2dRef(s, x, w, withBias ? b : null), `${name}, ${variant}, bias ${withBias}`);
      runs++;
    }
  }
  assert.ok(runs >= FORWARD_CASES.length + 10, `${runs} runs`);
});

test('the default variants: rows at every width on CPU adapters with subgroups; on GPUs rows on narrow maps, else 1x1, gemm, direct', () => {
  const geometry = (s: ConvSpec) => conv2dGeometry(s.xShape, s.wShape, options(s));
  const cpu = tuningFor({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: '' });
  const gpu = tuningFor({ vendor: 'nvidia', architecture: 'hopper', device: 'H200', description: '' });
  const wide = geometry(spec([2, 8, 32, 32], [8, 8, 3, 3], 1, 1));
  const narrow = geometry(spec([64, 32, 3, 3], [32, 32, 3, 3], 1, 1));
  for (const g of [wide, narrow]) {
    assert.is(preferRows(g, 8, cpu), true);
    assert.is(preferRowsForWeightGrad(g, 8, cpu), true);
  }
  assert.is(preferRows(narrow, 32, gpu), true);
  assert.is(preferRows(wide, 32, gpu), false);
  assert.is(preferRowsForWeightGrad(geometry(spec([2, 1, 48, 48], [16, 1, 7, 7], 2, 3)), 32, gpu), true);
  assert.is(preferRowsForWeightGrad(wide, 32, gpu), false);
  if (sharedLoadsRun()) {
    assert.is(chooseForwardVariant(wide), conv2dTuning().rowsBelowWidth > 32 ? 'rows' : 'gemm');
    assert.is(chooseBackwardDataVariant(narrow), 'rows');
    assert.is(chooseBackwardWeightVariant(narrow), 'rows');
  }
  assert.is(chooseForwardVariant(geometry(spec([64, 16, 12, 12], [16, 16, 3, 3], 1, 1))), sharedLoadsRun() ? 'rows' : 'gemm');
  // Fewer than 8 input channels: backward data keeps the row tiles.
  assert.is(chooseBackwardDataVariant(geometry(spec([1, 3, 40, 40], [8, 3, 7, 7], 2, 3))), 'tiles');
});

test('without rows kernels: 1x1 for pointwise, gemm, direct beyond its segment', () => {
  const geometry = (s: ConvSpec) => conv2dGeometry(s.xShape, s.wShape, options(s));
  assert.is(fallbackForwardVariant(geometry(spec([1, 4, 40, 40], [4, 4, 1, 1], 2))), '1x1');
  assert.is(fallbackForwardVariant(geometry(spec([1, 4, 20, 20], [4, 4, 1, 1], 1, 1))), 'gemm');
  assert.is(fallbackForwardVariant(geometry(spec([1, 3, 40, 40], [8, 3, 7, 7], 2, 3))), 'gemm');
  assert.is(fallbackForwardVariant(geometry(spec([1, 1, 2, 260], [1, 1, 2, 2], 16))), 'direct');
});

test('the rows kernels are chosen only where subgroups have at least 8 lanes', () => {
  const narrow = conv2dGeometry([64, 32, 3, 3], [32, 32, 3, 3], { padding: 1 });
  for (const lanes of [0, 4]) {
    assert.is(preferRows(narrow, lanes), false);
    assert.is(preferRowsForWeightGrad(narrow, lanes), false);
  }
  for (const lanes of [8, 32]) {
    assert.is(preferRows(narrow, lanes), true);
    assert.is(preferRowsForWeightGrad(narrow, lanes), true);
  }
});

test('fused bias + residual + ReLU equals the unfused reference, every variant', async () => {
  const cases: ConvSpec[] = [spec([2, 3, 6, 7], [5, 3, 3, 3], 1, 1), spec([1, 4, 7, 5], [6, 4, 1, 1], 2)];
  for (const [k, s] of cases.entries()) {
    const { x, w, b } = inputs(s, 40 + k);
    const r = randomData(size(outShape(s)), 50 + k);
    const plain = conv2dRef(s, x, w, b);
    const g = conv2dGeometry(s.xShape, s.wShape, options(s));
    for (const variant of VARIANTS.filter((v) => supportsVariant(g, v, true))) {
      for (const relu of [false, true]) {
        const got = await run(() =>
          conv2dFused(f32(x, s.xShape), f32(w, s.wShape), f32(b, [b.length]), {
            ...options(s),
            residual: f32(r, outShape(s)),
            relu,
            variant,
          }),
        );
        const expected = plain.map((v, i) => (relu ? Math.max(v + r[i], 0) : v + r[i]));
        assertClose(got, expected, `fused ${variant} relu ${relu}`);
      }
    }
  }
});

// The gradient kernels, each variant, on shapes larger than gradCheck can afford, against float64
// references that scatter (where the kernels gather).
test('backward data / weight / bias kernels match float64 references', async () => {
  const cases: [string, ConvSpec][] = [
    ['3x3 s1 p1', spec([2, 5, 9, 8], [6, 5, 3, 3], 1, 1)],
    ['3x3 s2 p1 odd input', spec([3, 4, 9, 11], [5, 4, 3, 3], 2, 1)],
    ['7x7 s2 p3', spec([1, 3, 12, 9], [4, 3, 7, 7], 2, 3)],
    ['1x1 s2', spec([2, 6, 7, 6], [5, 6, 1, 1], 2)],
    ['3x3 s(3,2) p(2,3) d(2,1) groups 2', spec([2, 4, 13, 10], [6, 2, 3, 3], [3, 2], [2, 3], [2, 1], 2)],
    ['5x5 s2 d2 p1, batch 1, one channel', spec([1, 1, 12, 13], [1, 1, 5, 5], 2, 1, 2)],
    ['3x3 p1, 300 rows, 9 and 10 channels', spec([3, 10, 10, 10], [9, 10, 3, 3], 1, 1)],
    ['3x3 s2 p1 on 1x3 maps, odd width', spec([6, 5, 1, 3], [9, 5, 3, 3], 2, 1)],
  ];
  for (const [k, [name, s]] of cases.entries()) {
    const { x, w } = inputs(s, 60 + k);
    const dy = randomData(size(outShape(s)), 70 + k);
    for (const variant of BACKWARD_VARIANTS) {
      const dx = await run(() =>
        conv2dBackwardData(f32(dy, outShape(s)), f32(w, s.wShape), s.xShape, { ...options(s), variant }),
      );
      assertClose(dx, conv2dInputGradRef(s, dy, w), `${name}, ${variant}: dx`);
      const dw = await run(() =>
        conv2dBackwardWeight(f32(x, s.xShape), f32(dy, outShape(s)), s.wShape, { ...options(s), variant }),
      );
      assertClose(dw, conv2dWeightGradRef(s, x, dy), `${name}, ${variant}: dweight`);
    }
    const db = await run(() => conv2dBackwardBias(f32(dy, outShape(s))));
    assertClose(db, conv2dBiasGradRef(s, dy), `${name}: dbias`);
  }
});

// The dense products (dense.ts), a variant to force: on maps smaller than the window's taps (dilated,
// non-square windows, a batch of 1) and where they do as many multiply-adds or more (a stride, groups).
const DENSE_CASES: [string, ConvSpec][] = [
  ['3x3 p1 on 2x2 maps', spec([17, 9, 2, 2], [10, 9, 3, 3], 1, 1)],
  ['5x5 p2 on 2x4 maps', spec([16, 5, 2, 4], [7, 5, 5, 5], 1, 2)],
  ['3x3 p1 on 1x2 maps, batch 1', spec([1, 4, 1, 2], [5, 4, 3, 3], 1, 1)],
  ['3x2 d(1,2) p(1,2) on 2x2 maps', spec([16, 3, 2, 2], [4, 3, 3, 2], 1, [1, 2], [1, 2])],
];

test('dense: fewer multiply-adds than the window kernels exactly where the map is smaller than the taps they visit', () => {
  const geometry = (s: ConvSpec) => conv2dGeometry(s.xShape, s.wShape, options(s));
  for (const [name, s] of DENSE_CASES) assert.is(denseDoesLess(geometry(s)), true, name);
  // PCNN's layer3 at 48 pixels: 9 pixels for 9 taps; a stride, 3x3 to 2x2: 9 for 9; a 6x6 map: 36 for 9.
  assert.is(denseDoesLess(geometry(spec([64, 64, 3, 3], [64, 64, 3, 3], 1, 1))), false);
  assert.is(denseDoesLess(geometry(spec([64, 64, 3, 3], [128, 64, 3, 3], 2, 1))), false);
  assert.is(denseDoesLess(geometry(spec([64, 32, 6, 6], [32, 32, 3, 3], 1, 1))), false);
  // A 1x3 map under 3x3 visits one row of taps: 3 for 3.
  assert.is(denseDoesLess(geometry(spec([8, 4, 1, 3], [4, 4, 3, 3], 1, 1))), false);
});

test('dense: forward, backward data and backward weight match the float64 references', async () => {
  // Also where they do as many multiply-adds (a stride, 3x3 to 2x2) and groups (block-diagonal).
  const forced: [string, ConvSpec][] = [
    ['3x3 s2 p1, 3x3 to 2x2', spec([16, 6, 3, 3], [9, 6, 3, 3], 2, 1)],
    ['3x3 p1 groups 2 on 2x2 maps', spec([16, 6, 2, 2], [4, 3, 3, 3], 1, 1, 1, 2)],
  ];
  for (const [k, [name, s]] of [...DENSE_CASES, ...forced].entries()) {
    const { x, w } = inputs(s, 150 + k);
    const dy = randomData(size(outShape(s)), 160 + k);
    const variant = 'dense';
    const y = await run(() => conv2d(f32(x, s.xShape), f32(w, s.wShape), null, { ...options(s), variant }));
    assertClose(y, conv2dRef(s, x, w, null), `${name}: forward`);
    const dx = await run(() => conv2dBackwardData(f32(dy, outShape(s)), f32(w, s.wShape), s.xShape, { ...options(s), variant }));
    assertClose(dx, conv2dInputGradRef(s, dy, w), `${name}: dx`);
    const dw = await run(() => conv2dBackwardWeight(f32(x, s.xShape), f32(dy, outShape(s)), s.wShape, { ...options(s), variant }));
    assertClose(dw, conv2dWeightGradRef(s, x, dy), `${name}: dweight`);
  }
});

test('dense: a fused epilogue, and a map too large for one dense weight, are refused by name', () => {
  tidy(() => {
    const x = f32(new Float32Array(16 * 4 * 2 * 2), [16, 4, 2, 2]);
    const w = f32(new Float32Array(4 * 4 * 3 * 3), [4, 4, 3, 3]);
    const o = { padding: 1, variant: 'dense' as const };
    assert.throws(() => conv2dFused(x, w, null, { ...o, relu: true }), /conv2d: variant 'dense' does not support .*bias, residual or ReLU/);
    assert.throws(() => conv2d(x, w, f32(new Float32Array(4), [4]), o), /conv2d: variant 'dense' does not support .*bias, residual or ReLU/);
    // A 56x56 map of 64 channels: the dense weight would be 200704² floats.
    const dy = f32(new Float32Array(64 * 56 * 56), [1, 64, 56, 56]);
    const w64 = f32(new Float32Array(64 * 64 * 9), [64, 64, 3, 3]);
    assert.throws(
      () => conv2dBackwardData(dy, w64, [1, 64, 56, 56], o),
      /conv2dBackwardData: variant 'dense' lays the weight out as a 200704×200704 matrix .* more than the device's maxStorageBufferBindingSize/,
    );
  });
});

// The rows kernels take 4 rows × 16 channels per invocation: ragged last row blocks and channel blocks.
test('rows kernels: ragged row and channel blocks', async () => {
  const [H, W] = [9, 7];
  // Stride 2 on a 2H x 2W input: each of the 4 phases of the input gradient has H·W rows.
  const cases: [string, ConvSpec][] = [
    ['3x3 p1', spec([2, 18, H, W], [20, 18, 3, 3], 1, 1)],
    ['3x3 s2 p1', spec([1, 2, 2 * H, 2 * W], [5, 2, 3, 3], 2, 1)],
  ];
  for (const [k, [name, s]] of cases.entries()) {
    const { x, w } = inputs(s, 130 + k);
    const dy = randomData(size(outShape(s)), 140 + k);
    const y = await run(() => conv2d(f32(x, s.xShape), f32(w, s.wShape), null, { ...options(s), variant: 'rows' }));
    assertClose(y, conv2dRef(s, x, w, null), `${name}: forward, rows`);
    const dx = await run(() =>
      conv2dBackwardData(f32(dy, outShape(s)), f32(w, s.wShape), s.xShape, { ...options(s), variant: 'rows' }),
    );
    assertClose(dx, conv2dInputGradRef(s, dy, w), `${name}: dx, rows`);
  }
});

test('backward weight: one chunk and many chunks both reduce correctly, each variant', async () => {
  const one = spec([1, 2, 3, 5], [3, 2, 3, 3], 1, 0);
  const many = spec([4, 3, 10, 6], [2, 3, 3, 3], 1, 1);
  const geometry = (s: ConvSpec) => conv2dGeometry(s.xShape, s.wShape, options(s));
  const chunks = (s: ConvSpec, variant: BackwardVariant) =>
    variant === 'rows' ? weightGradRowsSplit(geometry(s)).chunks : weightGradChunks(geometry(s), 9).chunks;
  for (const variant of WINDOW_BACKWARD_VARIANTS) {
    assert.is(chunks(one, variant), 1);
    assert.ok(chunks(many, variant) > 1, `${chunks(many, variant)} chunks`);
    for (const s of [one, many]) {
      const { x } = inputs(s, 80);
      const dy = randomData(size(outShape(s)), 81);
      const dw = await run(() =>
        conv2dBackwardWeight(f32(x, s.xShape), f32(dy, outShape(s)), s.wShape, { ...options(s), variant }),
      );
      assertClose(dw, conv2dWeightGradRef(s, x, dy), `dweight, ${variant}, ${chunks(s, variant)} chunk(s)`);
    }
  }
});

test('gradCheck: x, weight and bias through autograd', async () => {
  const cases: [string, ConvSpec][] = [
    ['3x3 s2 p1 odd input', spec([2, 2, 5, 5], [3, 2, 3, 3], 2, 1)],
    ['3x3 d2 p3 groups 2', spec([1, 4, 4, 5], [2, 2, 3, 3], 1, 3, 2, 2)],
    ['1x1 s2', spec([2, 3, 5, 3], [2, 3, 1, 1], 2)],
    ['2x3 s(1,2) p(1,0)', spec([1, 1, 4, 6], [2, 1, 2, 3], [1, 2], [1, 0])],
  ];
  for (const [k, [name, s]] of cases.entries()) {
    const { x, w, b } = inputs(s, 90 + k);
    await gradCheck(
      `conv2d ${name}`,
      [
        { shape: s.xShape, data: x },
        { shape: s.wShape, data: w },
        { shape: [b.length], data: b },
      ],
      (xt, wt, bt) => conv2d(xt, wt, bt, options(s)),
      (xd, wd, bd) => conv2dRef(s, xd, wd, bd),
    );
  }
});

test('gradCheck: fused residual + ReLU (mask from the output)', async () => {
  const s = spec([2, 2, 4, 5], [3, 2, 3, 3], 1, 1);
  const { x, w, b } = inputs(s, 100);
  const r = randomData(size(outShape(s)), 101);
  await gradCheck(
    'conv2dFused',
    [
      { shape: s.xShape, data: x },
      { shape: s.wShape, data: w },
      { shape: [b.length], data: b },
      { shape: outShape(s), data: r },
    ],
    (xt, wt, bt, rt) => conv2dFused(xt, wt, bt, { ...options(s), residual: rt, relu: true }),
    (xd, wd, bd, rd) => conv2dRef(s, xd, wd, bd).map((v, i) => Math.max(v + rd[i], 0)),
  );
});

test('PyTorch fixture: outputs and gradients', async () => {
  for (const c of fixture.cases) {
    const s = spec(c.xShape, c.wShape, c.stride as [number, number], c.padding as [number, number], c.dilation as [number, number], c.groups);
    assert.equal(outShape(s), c.yShape, `${c.name}: output shape`);
    const x = f32(c.x, c.xShape, true);
    const w = f32(c.w, c.wShape, true);
    const b = f32(c.b, [c.b.length], true);
    const y = tidy(() => {
      const out = conv2d(x, w, b, options(s));
      out.backward(f32(c.dy, c.yShape));
      return out;
    });
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(await y.toArray(), c.y, `${c.name}: y`, tol);
    assertClose(await x.grad!.toArray(), c.dx, `${c.name}: dx`, tol);
    assertClose(await w.grad!.toArray(), c.dw, `${c.name}: dweight`, tol);
    assertClose(await b.grad!.toArray(), c.db, `${c.name}: dbias`, tol);
    for (const t of [y, x, w, b]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
});

test('foldBatchNorm: conv with folded weights equals conv then BatchNorm (eval)', async () => {
  const s = spec([1, 3, 5, 4], [4, 3, 3, 3], 1, 1);
  const { x, w, b } = inputs(s, 110);
  const mean = randomData(4, 111);
  const variance = randomData(4, 112, 0.2, 2);
  const gamma = randomData(4, 113, 0.5, 1.5);
  const beta = randomData(4, 114);
  const eps = 1e-3;
  const plane = outShape(s)[2] * outShape(s)[3];
  for (const bias of [null, b]) {
    const expected = conv2dRef(s, x, w, bias).map((v, i) => {
      const o = Math.floor(i / plane) % 4;
      return ((v - mean[o]) / Math.sqrt(variance[o] + eps)) * gamma[o] + beta[o];
    });
    const got = await run(() => {
      const v = (d: Float64Array) => f32(d, [4]);
      const folded = foldBatchNorm(f32(w, s.wShape), bias && v(bias), v(mean), v(variance), v(gamma), v(beta), eps);
      return conv2d(f32(x, s.xShape), folded.weight, folded.bias, options(s));
    });
    assertClose(got, expected, `folded conv, bias ${bias !== null}`);
  }
  assert.throws(
    () => tidy(() => foldBatchNorm(f32(w, s.wShape), null, f32(mean, [4]), f32(variance.slice(0, 3), [3]), f32(gamma, [4]), f32(beta, [4]))),
    /foldBatchNorm: runningVar has shape \[3\], expected \[4\]/,
  );
});

test('bad input raises errors naming the op and the shapes', () => {
  tidy(() => {
    const w = f32(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
    const x = (shape: number[]) => f32(new Float32Array(size(shape)), shape);
    assert.throws(() => conv2d(x([3, 8, 8]), w), /conv2d: expected a 4-D input \(N, C, H, W\), got shape \[3,8,8\]/);
    assert.throws(() => conv2d(x([1, 5, 8, 8]), w), /conv2d: input \[1,5,8,8\] has 5 channels but weight \[4,3,3,3\] expects 3/);
    assert.throws(() => conv2d(x([1, 3, 2, 8]), w), /kernel \[3, 3\].*larger than the padded input 2×8/);
    assert.throws(() => conv2d(x([1, 6, 8, 8]), w, null, { groups: 4 }), /groups = 4 must be a positive integer dividing/);
    assert.throws(() => conv2d(x([1, 3, 8, 8]), w, null, { stride: 0 }), /stride must be an integer >= 1/);
    assert.throws(() => conv2d(x([1, 3, 8, 8]), w, x([3])), /bias has shape \[3\], expected \[4\]/);
    assert.throws(() => conv2d(x([1, 3, 8, 8]), w, null, { variant: '1x1' }), /variant '1x1' does not support/);
    assert.throws(
      () => conv2dFused(x([1, 3, 8, 8]), w, null, { residual: x([1, 4, 8, 8]) }),
      /residual has shape \[1,4,8,8\], expected the output shape \[1,4,6,6\]/,
    );
  });
});

test('nn.Conv2d: PyTorch names, shapes and init bounds; seeded; forward is conv2d', async () => {
  manualSeed(7);
  const conv = new Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
  assert.equal(conv.namedParameters().map(([n, t]) => [n, t.shape]), [
    ['weight', [6, 2, 3, 3]],
    ['bias', [6]],
  ]);
  const bound = 1 / Math.sqrt(2 * 3 * 3);
  const w = await conv.weight.toArray();
  const b = await conv.bias!.toArray();
  for (const v of [...w, ...b]) assert.ok(Math.abs(v) <= bound, `${v} outside ±${bound}`);
  assert.ok(Math.max(...w) > bound * 0.8 && Math.min(...w) < -bound * 0.8, 'weights spread over the bound');
  manualSeed(7);
  const again = new Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
  assert.equal(await again.weight.toArray(), w);
  const s = spec([1, 4, 5, 5], [6, 2, 3, 3], 2, 1, 1, 2);
  const x = randomData(size(s.xShape), 120);
  const got = await run(() => conv.forward(f32(x, s.xShape)));
  assertClose(got, conv2dRef(s, x, w, b), 'Conv2d.forward');
  const plain = new Conv2d(3, 2, [1, 3], { bias: false });
  assert.equal(plain.namedParameters().map(([n]) => n), ['weight']);
  assert.is(plain.bias, null);
  for (const m of [conv, again, plain]) m.dispose();
});

// The subgroup-sharing helper is copied between marked lines (WGSL has no imports): the copies must not
// drift, nor their width SHARED, which the host reads (SHARED_LANES) from one of them.
test('the shared8 broadcast helper and its width are identical in every shader that carries it', () => {
  const block = (source: string) => markedBlock(source, 'shared8');
  assert.ok(block(forwardRowsSource));
  for (const source of [forwardRowsSource, backwardDataRowsSource, backwardWeightRowsSource, matmulRegistersSource, attentionForwardSharedSource, attentionQuerySharedSource, attentionKeySharedSource]) {
    assert.fixture(block(source) ?? '<missing>', block(forwardRowsSource)!);
    assert.is(wgslConstants(source).get('SHARED'), SHARED_LANES);
  }
});

test.run();
