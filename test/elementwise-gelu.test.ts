// gelu (exact erf form and tanh approximation), erf, and their gradients, against float64 references
// computed here; nn.GELU; bad options.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { erf, gelu } from '../src/kernels/elementwise/index.js';
import { GELU } from '../src/nn/index.js';
import { erf64, gelu64 } from './reference/gelu.js';

function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

test('the float64 erf reference matches known values', () => {
  for (const [x, value] of [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-3, -0.9999779095030014], [5, 0.9999999999984626]]) {
    assert.ok(Math.abs(erf64(x) - value) < 1e-15, `erf(${x}) = ${erf64(x)}, expected ${value}`);
  }
});

test('erf is within 1e-7 of the float64 erf on [-6, 6] and beyond', async () => {
  const n = 1 << 20;
  const x = Float32Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1));
  x.set([0, -0, 1e-30, 0.927734375, -0.927734375, 3.92, 10, -10, 1e30, -1e30], 0);
  const out = await run(() => erf(tensor(x)));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const error = Math.abs(out[i] - erf64(x[i]));
    if (!(error <= worst)) [worst, at] = [error, x[i]];
  }
  console.log(`  erf: max |error| ${worst.toExponential(2)} at ${at.toPrecision(6)} (${n} points)`);
  assert.ok(worst <= 1e-7, `erf error ${worst} at ${at}`);
  assert.is(out[0], 0);
  assert.is(out[6], 1);
  assert.is(out[7], -1);
});

test('gelu matches the float64 reference, exact and tanh forms', async () => {
  const x = Float32Array.from(randomData(4099, 5, -8, 8));
  x.set([0, -0, 1e-20, -1e-20, 20, -20, 50, -50], 0);
  for (const approximate of ['none', 'tanh'] as const) {
    const expected = Float64Array.from(x, (v) => gelu64(v, approximate));
    const actual = await run(() => gelu(tensor(x, [4099]), { approximate }));
    assertClose(actual, expected, `gelu approximate=${approximate}`, { atol: 3e-7, rtol: 3e-7 });
    console.log(`  gelu ${approximate}: max |error| ${maxError(actual, expected).toExponential(2)}`);
  }
  const shaped = await run(() => gelu(tensor(x.subarray(0, 24), [2, 3, 4])));
  assertClose(shaped, Float64Array.from(x.subarray(0, 24), (v) => gelu64(v)), 'gelu [2, 3, 4]', { atol: 3e-7, rtol: 3e-7 });
});

test('gelu and erf backward: finite differences', async () => {
  const data = randomData(37, 11, -4, 4);
  await gradCheck('erf', [{ shape: [37], data }], (x) => erf(x), (x) => x.map(erf64));
  for (const approximate of ['none', 'tanh'] as const) {
    await gradCheck(
      `gelu approximate=${approximate}`,
      [{ shape: [37], data }],
      (x) => gelu(x, { approximate }),
      (x) => x.map((v) => gelu64(v, approximate)),
    );
  }
});

test('nn.GELU computes gelu and has no state', async () => {
  const x = Float32Array.from(randomData(10, 12, -3, 3));
  assertClose(await run(() => new GELU().forward(tensor(x))), Float64Array.from(x, (v) => gelu64(v)), 'GELU()', { atol: 3e-7, rtol: 3e-7 });
  const tanhForm = new GELU({ approximate: 'tanh' });
  assertClose(await run(() => tanhForm.forward(tensor(x))), Float64Array.from(x, (v) => gelu64(v, 'tanh')), "GELU('tanh')", { atol: 3e-7, rtol: 3e-7 });
  assert.equal(Object.keys(tanhForm.stateDict()), []);
});

test('gelu refuses a bad approximate and non-float32 input', () => {
  const x = tensor([1, 2]);
  assert.throws(() => gelu(x, { approximate: 'erf' as 'none' }), /gelu: approximate must be 'none' or 'tanh', got "erf"/);
  assert.throws(() => new GELU({ approximate: 'fast' as 'none' }), /GELU: approximate must be 'none' or 'tanh', got "fast"/);
  assert.throws(() => gelu(tensor([true, false])), /gelu: input must be a float32 tensor, got bool of shape \[2\]/);
});

test.run();
