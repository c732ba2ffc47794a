// leakyRelu and clamp (PyTorch's F.leaky_relu and torch.clamp with number bounds) and their gradients,
// against float64 references written here: values at the kinks, NaN, infinities, finite differences away
// from the kinks, PyTorch's gradient rule at them (leaky_relu_backward: x > 0 ? g : g * slope;
// clamp_backward: min <= x <= max ? g : 0); nn.LeakyReLU; bad arguments.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { clamp, leakyRelu } from '../src/kernels/elementwise/index.js';
import { LeakyReLU } from '../src/nn/index.js';

const leaky64 = (x: number, slope = 0.01) => (x > 0 ? x : slope * x);
const leakyGrad64 = (x: number, slope = 0.01) => (x > 0 ? 1 : slope);
/** torch.clamp: min(max(x, lo), hi) where NaN stays NaN. */
const clamp64 = (x: number, lo = -Infinity, hi = Infinity) => (Number.isNaN(x) ? NaN : x < lo ? lo : x > hi ? hi : x);
const clampGrad64 = (x: number, lo = -Infinity, hi = Infinity) => (x >= lo && x <= hi ? 1 : 0);

/** Elementwise |actual - expected| <= rtol * |expected|, where NaN matches NaN and infinities must be equal. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 0): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    if (Object.is(a, e) || a === e || (Number.isNaN(a) && Number.isNaN(e)) || Math.abs(a - e) <= rtol * Math.abs(e)) continue;
    throw new Error(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}; ${actual.length} elements)`);
  }
}

/** The gradient of sum(weights * op(x)) with respect to x, from the GPU backward. */
async function gradient(x: Float32Array, weights: Float32Array, op: (t: ReturnType<typeof tensor>) => ReturnType<typeof tensor>) {
  const input = tensor(x, [x.length], { requiresGrad: true });
  tidy(() => op(input).backward(tensor(weights, [x.length])));
  const grad = await input.grad!.toArray();
  input.grad!.dispose();
  input.dispose();
  return grad;
}

/** Ragged lengths (1, a vec4 tail of 3, many), with the kinks, NaN and the infinities at the front. */
function data(n: number, seed: number, special: number[]): Float32Array {
  const x = Float32Array.from(randomData(n, seed, -5, 5));
  x.set(special.slice(0, n), 0);
  return x;
}

test('leakyRelu matches the float64 reference, at x == 0, for NaN and infinities, any slope', async () => {
  for (const slope of [0.01, 0.2, 0, 1, -0.5, 3]) {
    for (const n of [1, 7, 1029]) {
      const x = data(n, n + 3, [0, -0, 1e-30, -1e-30, NaN, Infinity, -Infinity, 2, -2]);
      const got = await run(() => (slope === 0.01 ? leakyRelu(tensor(x, [n])) : leakyRelu(tensor(x, [n]), slope)));
      assertSame(got, Float64Array.from(x, (v) => leaky64(v, slope)), `leakyRelu slope ${slope}, ${n} elements`, 2.5e-7);
      if (n >= 7) {
        assert.is(got[0], 0, 'leakyRelu(0) = 0');
        assert.ok(Number.isNaN(got[4]), 'NaN passes through');
        assert.is(got[5], Infinity);
        if (slope > 0) assert.is(got[6], -Infinity);
      }
    }
  }
  const shaped = Float32Array.from(randomData(24, 4, -3, 3));
  assertClose(await run(() => leakyRelu(tensor(shaped, [2, 3, 4]), 0.1)), Float64Array.from(shaped, (v) => leaky64(v, 0.1)), 'leakyRelu [2, 3, 4]');
});

test('clamp matches the float64 reference, values at min and max included, one bound or both', async () => {
  const bounds: { min?: number; max?: number }[] = [{ min: -1, max: 1 }, { min: 0.5 }, { max: -0.25 }, { min: 2, max: 2 }, { min: -Infinity, max: 0 }, { min: 0, max: Infinity }];
  for (const { min, max } of bounds) {
    for (const n of [1, 7, 1029]) {
      const edges = [min ?? 0, max ?? 0, Math.fround((min ?? 0) - 1e-6), Math.fround((max ?? 0) + 1e-6), NaN, Infinity, -Infinity, 0];
      const x = data(n, n + 5, edges);
      const got = await run(() => clamp(tensor(x, [n]), { min, max }));
      const expected = Float64Array.from(x, (v) => clamp64(v, min, max));
      assertSame(got, expected, `clamp min ${min} max ${max}, ${n} elements`);
      if (n >= 7) {
        if (min !== undefined && Number.isFinite(min)) assert.is(got[0], min, 'x == min stays min');
        if (max !== undefined && Number.isFinite(max)) assert.is(got[1], max, 'x == max stays max');
        assert.ok(Number.isNaN(got[4]), 'NaN passes through');
        assert.is(got[5], max ?? Infinity, '+inf');
        assert.is(got[6], min ?? -Infinity, '-inf');
      }
    }
  }
  const shaped = Float32Array.from(randomData(24, 6, -3, 3));
  assertClose(await run(() => clamp(tensor(shaped, [4, 3, 2]), { min: -1, max: 1.5 })), Float64Array.from(shaped, (v) => clamp64(v, -1, 1.5)), 'clamp [4, 3, 2]');
});

/** Data whose distance from every kink is at least 0.05, so that central differences see one branch. */
function awayFrom(kinks: number[], n: number, seed: number): Float64Array {
  return randomData(n, seed, -3, 3).map((v) => (kinks.some((k) => Math.abs(v - k) < 0.05) ? v + 0.1 : v));
}

test('leakyRelu and clamp backward: finite differences away from the kinks', async () => {
  for (const slope of [0.01, 0.3, -0.5]) {
    await gradCheck(`leakyRelu slope ${slope}`, [{ shape: [41], data: awayFrom([0], 41, 7) }], (x) => leakyRelu(x, slope), (x) => x.map((v) => leaky64(v, slope)));
  }
  for (const { min, max } of [{ min: -1, max: 1.25 }, { min: 0.5 }, { max: -0.25 }]) {
    const kinks = [min, max].filter((v): v is number => v !== undefined);
    await gradCheck(`clamp min ${min} max ${max}`, [{ shape: [3, 13], data: awayFrom(kinks, 39, 8) }], (x) => clamp(x, { min, max }), (x) => x.map((v) => clamp64(v, min, max)));
  }
});

test("gradients at the kinks follow PyTorch's rules: slope at x == 0, the upstream gradient at x == min and x == max", async () => {
  const weights = Float32Array.from([1.5, -2, 0.75, 3, -1, 2.5, 4, -0.5]);
  const x = Float32Array.from([0, -0, 1e-30, -1e-30, NaN, 2, -2, 0]);
  for (const slope of [0.01, 0.2, -0.5]) {
    const grad = await gradient(x, weights, (t) => leakyRelu(t, slope));
    assertSame(grad, Float64Array.from(x, (v, i) => weights[i] * leakyGrad64(v, slope)), `leakyRelu backward slope ${slope}`, 2.5e-7);
    assert.is(grad[0], Math.fround(Math.fround(slope) * 1.5), `leakyRelu'(0) = slope ${slope}`);
  }
  const y = Float32Array.from([-1, 1, Math.fround(-1 - 1e-6), Math.fround(1 + 1e-6), NaN, 0.5, -Infinity, Infinity]);
  for (const { min, max } of [{ min: -1, max: 1 }, { min: -1 }, { max: 1 }, { min: 1, max: 1 }]) {
    const grad = await gradient(y, weights, (t) => clamp(t, { min, max }));
    assertSame(grad, Float64Array.from(y, (v, i) => weights[i] * clampGrad64(v, min, max)), `clamp backward min ${min} max ${max}`);
  }
  // Both bounds at x == min == max pass the gradient (PyTorch: where(x >= min & x <= max, g, 0)).
  assert.equal(Array.from(await gradient(Float32Array.of(1, 1), Float32Array.of(2, 3), (t) => clamp(t, { min: 1, max: 1 }))), [2, 3]);
});

test('nn.LeakyReLU computes leakyRelu, defaults to slope 0.01 and has no state', async () => {
  const x = Float32Array.from(randomData(10, 12, -3, 3));
  assertClose(await run(() => new LeakyReLU().forward(tensor(x))), Float64Array.from(x, (v) => leaky64(v)), 'LeakyReLU()');
  const steep = new LeakyReLU(0.2);
  assert.is(steep.negativeSlope, 0.2);
  assertClose(await run(() => steep.forward(tensor(x))), Float64Array.from(x, (v) => leaky64(v, 0.2)), 'LeakyReLU(0.2)');
  assert.equal(Object.keys(steep.stateDict()), []);
});

test('bad arguments are errors naming the op and the value', () => {
  const x = tensor([1, 2]);
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(() => leakyRelu(x, bad), new RegExp(`leakyRelu: negativeSlope must be a finite number, got ${bad}`));
    assert.throws(() => new LeakyReLU(bad), new RegExp(`LeakyReLU: negativeSlope must be a finite number, got ${bad}`));
  }
  assert.throws(() => leakyRelu(x, '0.1' as never), /leakyRelu: negativeSlope must be a finite number, got "0\.1"/);
  assert.throws(() => leakyRelu(tensor([true, false])), /leakyRelu: input must be a float32 tensor, got bool of shape \[2\]/);
  assert.throws(() => clamp(x), /clamp: expected at least one of min and max, got neither/);
  assert.throws(() => clamp(x, {}), /clamp: expected at least one of min and max, got neither/);
  assert.throws(() => clamp(x, { min: 2, max: 1 }), /clamp: min 2 is greater than max 1/);
  assert.throws(() => clamp(x, { min: NaN }), /clamp: min must be a number, got NaN/);
  assert.throws(() => clamp(x, { max: '1' as never }), /clamp: max must be a number, got "1"/);
  assert.throws(() => clamp(tensor(Int32Array.of(1, 2), [2]), { min: 0 }), /clamp: input must be a float32 tensor, got int32 of shape \[2\]/);
  x.dispose();
});

test.run();
