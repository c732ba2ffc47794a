import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { binaryRef, unaryRefs } from './reference/elementwise.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { add, sub, mul, div, pow, neg, exp, log, sqrt, relu, sigmoid, tanh } from '../src/kernels/elementwise/index.js';

const binaries = {
  add: { op: add, f: (x: number, y: number) => x + y },
  sub: { op: sub, f: (x: number, y: number) => x - y },
  mul: { op: mul, f: (x: number, y: number) => x * y },
  div: { op: div, f: (x: number, y: number) => x / y },
};
const unaries = { neg, exp, log, sqrt, relu, sigmoid, tanh };

const t = (data: Float64Array, shape: number[]) => tensor(Float32Array.from(data), shape);
/** Data away from zero (logs, square roots). */
const positive = (n: number, seed: number) => randomData(n, seed, 0.5, 2);
/** Data of either sign with |v| in [0.5, 2] (divisors). */
const awayFromZero = (n: number, seed: number) => randomData(n, seed).map((v) => Math.sign(v) * (0.5 + 1.5 * Math.abs(v)));

// Shape pairs: same shape with a ragged vec4 tail, the broadcasts the brief names, a 0-D and a
// 1-element operand, size-1 dims in the middle, and dims that merge to few after coalescing.
const shapePairs: [number[], number[]][] = [
  [[1027], [1027]],
  [[2, 1, 3], [4, 1]],
  [[5], [3, 1]],
  [[2, 3, 4], []],
  [[1], [3, 2]],
  [[3, 1, 5, 1], [1, 4, 5, 2]],
  [[2, 3, 4, 5, 6, 7], [3, 1, 5, 1, 7]],
  [[1, 1, 1], [1]],
  // Innermost rows of a multiple of 4 (one vec4 load or splat per input).
  [[2, 3, 8], [3, 1]],
  [[4, 8], [8]],
  [[1, 4], [5, 1]],
];

test('binary ops match float64 references under broadcasting', async () => {
  for (const [name, { op, f }] of Object.entries(binaries)) {
    for (const [i, [sa, sb]] of shapePairs.entries()) {
      const a = awayFromZero(sa.reduce((p, s) => p * s, 1), 10 + i);
      const b = awayFromZero(sb.reduce((p, s) => p * s, 1), 20 + i);
      const got = await run(() => op(t(a, sa), t(b, sb)));
      assertClose(got, binaryRef(a, sa, b, sb, f), `${name} [${sa}] with [${sb}]`);
      const swapped = await run(() => op(t(b, sb), t(a, sa)));
      assertClose(swapped, binaryRef(b, sb, a, sa, f), `${name} [${sb}] with [${sa}]`);
    }
  }
});

test('binary ops take a number on either side', async () => {
  const x = awayFromZero(13, 3);
  for (const [name, { op, f }] of Object.entries(binaries)) {
    for (const s of [2.5, -0.75]) {
      const right = await run(() => op(t(x, [13]), s));
      assertClose(right, x.map((v) => f(v, s)), `${name}(tensor, ${s})`);
      const left = await run(() => op(s, t(x, [13])));
      assertClose(left, x.map((v) => f(s, v)), `${name}(${s}, tensor)`);
    }
  }
  assert.throws(() => add(1, 2), /add: expected at least one Tensor operand, got the numbers 1 and 2/);
});

test('unary ops match float64 references, including a ragged tail and a single element', async () => {
  for (const n of [1, 6, 1031]) {
    const wide = randomData(n, n, -12, 12);
    const pos = positive(n, n + 1);
    for (const [name, op] of Object.entries(unaries)) {
      const data = name === 'log' || name === 'sqrt' ? pos : wide;
      const got = await run(() => op(t(data, [n])));
      assertClose(got, data.map(unaryRefs[name]), `${name} of ${n} elements`);
    }
  }
});

test('sigmoid and tanh saturate without NaN; relu passes NaN and maps -0 to 0', async () => {
  const x = Float64Array.from([-200, -90, 90, 200, 0]);
  assertClose(await run(() => sigmoid(t(x, [5]))), x.map(unaryRefs.sigmoid), 'sigmoid extremes');
  assertClose(await run(() => tanh(t(x, [5]))), x.map(unaryRefs.tanh), 'tanh extremes');
  const r = await run(() => relu(tensor([NaN, -1, 2], [3])));
  assert.ok(Number.isNaN(r[0]), 'relu(NaN) is NaN');
  assert.equal([...r.slice(1)], [0, 2]);
});

test('pow matches torch.pow: zero exponent, integer exponents of negative bases, tensor exponents', async () => {
  const x = Float64Array.from([-2, -1.5, 0, 0.5, 3, -0.25, 1.75]);
  for (const e of [0, 1, 2, 3, -1, -2, 0.5, 1.5]) {
    const base = e === 0.5 || e === 1.5 ? x.map(Math.abs) : x.map((v) => (e < 0 && v === 0 ? 1 : v));
    const got = await run(() => pow(t(base, [7]), e));
    assertClose(got, base.map((v) => Math.pow(v, e)), `pow(x, ${e})`);
  }
  const zeroPow = await run(() => pow(tensor([0, 0], [2]), 0));
  assert.equal([...zeroPow], [1, 1], '0 ** 0 = 1');
  const b = positive(6, 4);
  const e = randomData(3, 5, -2, 2);
  const got = await run(() => pow(t(b, [2, 3]), t(e, [3])));
  assertClose(got, binaryRef(b, [2, 3], e, [3], Math.pow), 'pow(tensor, tensor) broadcast');
});

test('0-size operands broadcast to an empty result; bad shapes and dtypes name the op', async () => {
  const out = add(tensor([], [0, 3]), tensor([1, 2, 3], [3]));
  assert.equal(out.shape, [0, 3]);
  assert.is((await out.toArray()).length, 0);
  out.dispose();
  assert.throws(
    () => mul(tensor([1, 2, 3], [3]), tensor([1, 2, 3, 4], [2, 2])),
    /mul: shapes \[3\] and \[2,2\] cannot be broadcast together \(size 3 vs 2 at dimension 1/,
  );
  assert.throws(() => relu(tensor(Int32Array.from([1]))), /relu: input must be a float32 tensor, got int32 of shape \[1\]/);
  const alternating = (n: number, odd: boolean) => Array.from({ length: n }, (_, d) => (d % 2 === (odd ? 1 : 0) ? 2 : 1));
  assert.throws(
    () => add(tensor(new Float32Array(32), alternating(9, false)), tensor(new Float32Array(16), alternating(9, true))),
    /add: needs 9 dimensions after merging, more than the 8 its kernel takes/,
  );
});

const input = (shape: number[], seed: number, low = -1, high = 1) => ({ shape, data: randomData(shape.reduce((p, s) => p * s, 1), seed, low, high) });

test('gradients of broadcast binary ops', async () => {
  for (const [name, { op, f }] of Object.entries(binaries)) {
    for (const [sa, sb] of [[[2, 1, 3], [4, 1]], [[3], [2, 3]], [[2, 3], []], [[2, 3, 4], [3, 1]]] as [number[], number[]][]) {
      await gradCheck(`${name} [${sa}] [${sb}]`, [input(sa, 1), input(sb, 2, 0.5, 2)], (a, b) => op(a, b), (a, b) => binaryRef(a, sa, b, sb, f));
    }
  }
});

test('gradients with a number operand on either side', async () => {
  const s = 1.5;
  for (const [name, { op, f }] of Object.entries(binaries)) {
    const x = input([2, 5], 3, 0.5, 2);
    await gradCheck(`${name}(x, ${s})`, [x], (a) => op(a, s), (a) => a.map((v) => f(v, s)));
    await gradCheck(`${name}(${s}, x)`, [x], (a) => op(s, a), (a) => a.map((v) => f(s, v)));
  }
});

test('gradients of unary ops', async () => {
  for (const [name, op] of Object.entries(unaries)) {
    const x = name === 'log' || name === 'sqrt' ? input([3, 7], 4, 0.5, 2) : input([3, 7], 4, -2, 2);
    await gradCheck(name, [x], (a: Tensor) => op(a), (a) => a.map(unaryRefs[name]));
  }
});

test('gradients of pow with number and tensor exponents, and its zero masks', async () => {
  const x = input([2, 4], 6, -2, 2);
  for (const e of [2, 3, -1]) {
    await gradCheck(`pow(x, ${e})`, [x], (a) => pow(a, e), (a) => a.map((v) => Math.pow(v, e)));
  }
  await gradCheck('pow(x, 0.5)', [input([5], 7, 0.5, 2)], (a) => pow(a, 0.5), (a) => a.map(Math.sqrt));
  await gradCheck('pow(x, t)', [input([2, 3], 8, 0.5, 2), input([3], 9, -2, 2)], (a, b) => pow(a, b), (a, b) => binaryRef(a, [2, 3], b, [3], Math.pow));
  // torch: d(0^0)/dx = 0 (the exponent-0 mask) and d(0^e)/de = 0 for e >= 0 (the base-0 mask).
  const base = tensor([0, 0, 2], [3], { requiresGrad: true });
  const exponent = tensor([0, 2, 0], [3], { requiresGrad: true });
  tidy(() => pow(base, exponent).backward(tensor([1, 1, 1], [3])));
  assert.equal([...(await base.grad!.toArray())], [0, 0, 0]);
  assertClose(await exponent.grad!.toArray(), [0, 0, Math.log(2)], 'd pow / d exponent');
  for (const z of [base, exponent]) {
    z.grad!.dispose();
    z.dispose();
  }
});

test.run();
