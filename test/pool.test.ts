import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, markedBlock, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { maxPool2d, avgPool2d, adaptiveAvgPool2d, type PoolOptions, type AvgPool2dOptions } from '../src/kernels/pool/index.js';
import { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from '../src/nn/pool.js';
import {
  adaptiveAvgPoolRef,
  avgPoolRef,
  maxPoolGradRef,
  maxPoolRef,
  pairOf,
  poolOutShape,
  type Shape4,
  type WindowRef,
} from './reference/pool.js';
import fixtures from './fixtures/batchnorm_pool.json';
import maxBackwardSource from '../shaders/pool/max_backward.wgsl';
import avgBackwardSource from '../shaders/pool/avg_backward.wgsl';

const windowOf = (o: PoolOptions): WindowRef => ({
  kernel: pairOf(o.kernelSize),
  stride: pairOf(o.stride ?? o.kernelSize),
  padding: pairOf(o.padding ?? 0),
  ceilMode: o.ceilMode ?? false,
});
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const fromJson = (values: (number | null)[]) => Float64Array.from(values, (v) => (v === null ? NaN : v));
const upload = (data: ArrayLike<number>, shape: readonly number[]) => tensor(Float32Array.from(data), shape);

/** Output and input gradient of sum(op(x) * upstream). */
async function forwardBackward(op: (x: Tensor) => Tensor, x: ArrayLike<number>, shape: readonly number[], upstream: (n: number) => ArrayLike<number>) {
  const input = tensor(Float32Array.from(x), shape, { requiresGrad: true });
  const out = tidy(() => {
    const y = op(input);
    y.backward(upload(upstream(y.size), y.shape));
    return y;
  });
  const result = { out: await out.toArray(), outShape: out.shape, grad: await input.grad!.toArray() };
  for (const t of [out, input.grad!, input]) t.dispose();
  return result;
}

// Odd sizes, batch 1, one channel, rectangular windows, padding at its limit, ceil mode, a 1x1 input.
const maxCases: [Shape4, PoolOptions][] = [
  [[2, 3, 7, 9], { kernelSize: 3, stride: 2, padding: 1 }],
  [[1, 1, 5, 5], { kernelSize: 2 }],
  [[1, 2, 6, 5], { kernelSize: [3, 2], stride: [1, 2], padding: [1, 1] }],
  [[3, 1, 5, 7], { kernelSize: 2, stride: 2, ceilMode: true }],
  [[1, 1, 1, 1], { kernelSize: 1 }],
];

test('maxPool2d: output, and the gradient routed to each argmax, match the float64 reference', async () => {
  for (const [shape, options] of maxCases) {
    const what = `maxPool2d [${shape}] ${JSON.stringify(options)}`;
    const x = randomData(size(shape), 1);
    const ref = maxPoolRef(Float32Array.from(x), shape, windowOf(options));
    const got = await forwardBackward((t) => maxPool2d(t, options), x, shape, (n) => randomData(n, 2));
    assert.equal(got.outShape, ref.outShape, `${what}: shape`);
    assertClose(got.out, ref.out, what, { atol: 0, rtol: 0 });
    const grad = maxPoolGradRef(Float32Array.from(randomData(ref.out.length, 2)), ref.indices, shape, ref.outShape);
    assertClose(got.grad, grad, `${what}: gradient`, { atol: 1e-6, rtol: 1e-6 });
  }
});

test('grids past one dispatch dimension (more than 65535 workgroups of 64, folded into y), forward and backward', async () => {
  const shape: Shape4 = [2, 32769, 9, 9];
  const options: PoolOptions = { kernelSize: [1, 2], stride: 1 };
  const x = randomData(size(shape), 7);
  const ref = maxPoolRef(Float32Array.from(x), shape, windowOf(options));
  const got = await forwardBackward((t) => maxPool2d(t, options), x, shape, (n) => randomData(n, 8));
  assertClose(got.out, ref.out, 'maxPool2d over 65538 planes of 9x9', { atol: 0, rtol: 0 });
  const grad = maxPoolGradRef(Float32Array.from(randomData(ref.out.length, 8)), ref.indices, shape, ref.outShape);
  assertClose(got.grad, grad, 'maxPool2d gradient over 65538 planes of 9x9', { atol: 1e-6, rtol: 1e-6 });
});

test('maxPool2d gradCheck (distinct values, so no window has a tie)', async () => {
  for (const [shape, options] of maxCases.slice(0, 3)) {
    await gradCheck(
      `maxPool2d [${shape}] ${JSON.stringify(options)}`,
      [{ shape: [...shape], data: Float64Array.from(Float32Array.from(randomData(size(shape), 3))) }],
      (x) => maxPool2d(x, options),
      (x) => maxPoolRef(x, shape, windowOf(options)).out,
    );
  }
});

test('maxPool2d matches PyTorch with ties (ReLU zeros, all-zero planes) and NaN: gradient to the first max', async () => {
  for (const c of fixtures.maxPool) {
    const what = `maxPool2d fixture [${c.shape}] ${JSON.stringify(c.options)}`;
    const options = c.options as PoolOptions;
    const x = fromJson(c.x);
    const ref = maxPoolRef(x, c.shape as unknown as Shape4, windowOf(options));
    // The reference agrees with PyTorch's indices, so the gradient check below pins the index rule.
    assert.equal([...ref.indices], c.indices, `${what}: reference indices`);
    const { upstream, gradInput } = c;
    if (!upstream || !gradInput) {
      // assertClose counts NaN as a mismatch even where NaN is expected: compare NaN positions, then the rest.
      const out = await run(() => maxPool2d(upload(x, c.shape), options));
      const expected = fromJson(c.out);
      assert.equal(Array.from(out, Number.isNaN), Array.from(expected, Number.isNaN), `${what}: NaN positions`);
      assert.ok(expected.some(Number.isNaN), `${what}: some window holds a NaN`);
      const keep = (v: ArrayLike<number>) => Array.from(v).filter((_, i) => !Number.isNaN(expected[i]));
      assertClose(keep(out), keep(expected), what, { atol: 0, rtol: 0 });
      continue;
    }
    const got = await forwardBackward((t) => maxPool2d(t, options), x, c.shape, () => upstream);
    assert.equal(got.outShape, c.outShape, `${what}: shape`);
    assertClose(got.out, fromJson(c.out), what, { atol: 0, rtol: 0 });
    assertClose(got.grad, gradInput, `${what}: gradient`, { atol: 1e-6, rtol: 1e-6 });
  }
});

const avgCases: [Shape4, AvgPool2dOptions][] = [
  [[2, 3, 7, 9], { kernelSize: 3, stride: 2, padding: 1 }],
  [[2, 3, 7, 9], { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }],
  [[1, 1, 6, 7], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }],
  [[1, 2, 6, 7], { kernelSize: [2, 3], stride: [2, 1], padding: [1, 0], ceilMode: true, countIncludePad: false }],
  [[3, 1, 4, 4], { kernelSize: 2 }],
];

test('avgPool2d: forward matches the float64 reference; gradCheck', async () => {
  for (const [shape, options] of avgCases) {
    const what = `avgPool2d [${shape}] ${JSON.stringify(options)}`;
    const x = randomData(size(shape), 4);
    const includePad = options.countIncludePad ?? true;
    const out = await run(() => avgPool2d(upload(x, shape), options));
    assertClose(out, avgPoolRef(Float32Array.from(x), shape, windowOf(options), includePad), what);
    await gradCheck(what, [{ shape: [...shape], data: x }], (t) => avgPool2d(t, options), (t) =>
      avgPoolRef(t, shape, windowOf(options), includePad),
    );
  }
});

test('avgPool2d matches PyTorch (padding, ceil mode, countIncludePad)', async () => {
  for (const c of fixtures.avgPool) {
    const what = `avgPool2d fixture ${JSON.stringify(c.options)}`;
    const options = c.options as AvgPool2dOptions;
    assert.equal([...poolOutShape(c.shape as unknown as Shape4, windowOf(options))], c.outShape, `${what}: reference shape`);
    const got = await forwardBackward((t) => avgPool2d(t, options), c.x, c.shape, () => c.upstream);
    assert.equal(got.outShape, c.outShape, `${what}: shape`);
    assertClose(got.out, c.out, what);
    assertClose(got.grad, c.gradInput, `${what}: gradient`);
  }
});

const adaptiveCases: [Shape4, [number, number]][] = [
  [[2, 3, 5, 7], [3, 2]],
  [[2, 3, 5, 7], [1, 1]],
  [[1, 2, 2, 3], [3, 4]],
  [[1, 1, 6, 6], [3, 3]],
  [[3, 1, 4, 9], [4, 5]],
];

test('adaptiveAvgPool2d: forward matches the float64 reference; gradCheck', async () => {
  for (const [shape, outputSize] of adaptiveCases) {
    const what = `adaptiveAvgPool2d [${shape}] -> [${outputSize}]`;
    const x = randomData(size(shape), 5);
    const out = await run(() => adaptiveAvgPool2d(upload(x, shape), outputSize));
    assertClose(out, adaptiveAvgPoolRef(Float32Array.from(x), shape, outputSize), what);
    await gradCheck(what, [{ shape: [...shape], data: x }], (t) => adaptiveAvgPool2d(t, outputSize), (t) =>
      adaptiveAvgPoolRef(t, shape, outputSize),
    );
  }
});

test('adaptiveAvgPool2d matches PyTorch (1x1, non-divisible 5x7 -> 3x2, larger than the input)', async () => {
  for (const c of fixtures.adaptiveAvgPool) {
    const what = `adaptiveAvgPool2d fixture [${c.shape}] -> [${c.options.outputSize}]`;
    const outputSize = c.options.outputSize as [number, number];
    const got = await forwardBackward((t) => adaptiveAvgPool2d(t, outputSize), c.x, c.shape, () => c.upstream);
    assert.equal(got.outShape, c.outShape, `${what}: shape`);
    assertClose(got.out, c.out, what);
    assertClose(got.grad, c.gradInput, `${what}: gradient`);
  }
});

test('pooling modules apply their functional op and hold no parameters', async () => {
  const shape: Shape4 = [1, 2, 5, 6];
  const x = randomData(size(shape), 6);
  const xf = Float32Array.from(x);
  const modules: [{ forward(t: Tensor): Tensor; parameters(): Tensor[] }, Float64Array][] = [
    [new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }), maxPoolRef(xf, shape, windowOf({ kernelSize: 3, stride: 2, padding: 1 })).out],
    [new AvgPool2d({ kernelSize: 2, countIncludePad: false }), avgPoolRef(xf, shape, windowOf({ kernelSize: 2 }), false)],
    [new AdaptiveAvgPool2d(2), adaptiveAvgPoolRef(xf, shape, [2, 2])],
  ];
  for (const [module, expected] of modules) {
    assert.is(module.parameters().length, 0);
    assertClose(await run(() => module.forward(upload(x, shape))), expected, module.constructor.name);
  }
});

test('bad pooling arguments are errors naming the op and the values', () => {
  const x = upload(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  assert.throws(() => maxPool2d(x, { kernelSize: 3, padding: 2 }), /maxPool2d: padding should be at most half of the kernel size, got padding \[2, 2\] for kernelSize \[3, 3\]/);
  assert.throws(() => avgPool2d(x, { kernelSize: 5 }), /avgPool2d: input \[2,3,4,4\] gives output size 3x0x0, which is too small/);
  assert.throws(() => maxPool2d(x, { kernelSize: 0 }), /maxPool2d: kernelSize must be an integer >= 1 or a pair of them, got 0/);
  assert.throws(() => maxPool2d(x, { kernelSize: [2, 2], stride: [1, 1.5] }), /maxPool2d: stride must be an integer >= 1/);
  assert.throws(() => avgPool2d(x, { kernelSize: 2, padding: -1 }), /avgPool2d: padding must be an integer >= 0/);
  assert.throws(() => adaptiveAvgPool2d(x, [0, 2]), /adaptiveAvgPool2d: outputSize must be an integer >= 1/);
  assert.throws(() => maxPool2d(x.view([6, 4, 4]), { kernelSize: 2 }), /maxPool2d: expected a 4-D input \(N, C, H, W\) with non-zero C, H, W, got shape \[6,4,4\]/);
  x.dispose();
});

// WGSL has no imports and our shaders are not concatenated, so the window rule both backward kernels
// need is copied between marked lines; a copy that drifts would break one gradient silently.
test('the shared WGSL window rule is identical in the max and avg backward shaders', () => {
  const block = (source: string) => markedBlock(source, 'windows-containing');
  assert.ok(block(maxBackwardSource));
  assert.fixture(block(avgBackwardSource)!, block(maxBackwardSource)!);
});

test.run();
