// conv2d kernels size their work to the shape without changing a bit of the result:
// - fittedWorkgroupSize: a batch-1 map of a few pixels runs one subgroup per workgroup instead of the
//   tuning's 64 lanes. Each output is computed by one invocation whatever the workgroup size, so an
//   image's result is bit for bit the same alone (small workgroups) as inside a batch (full ones).
// - the weight gradient's `rows` kernel puts 4 (channel, tap) columns in its vec4 lanes where a group
//   has fewer than 4 input channels (TAP_LANES: the 1-channel stems), the same terms in the same order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomData } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { conv2d, conv2dBackwardData } from '../src/kernels/conv2d/index.js';
import { fittedWorkgroupSize, conv2dTuning } from '../src/kernels/conv2d/tuning.js';
import { backwardWeight, rowsTapLanes } from '../src/kernels/conv2d/backward_weight.js';
import { conv2dGeometry } from '../src/kernels/conv2d/geometry.js';
import { narrow } from '../src/kernels/shape/index.js';
import { sharedLoadsRun } from '../src/kernels/subgroups.js';

test('fittedWorkgroupSize: whole subgroups of at least 8 lanes up to the tuning size', () => {
  const tuning = { ...conv2dTuning(), workgroupSize: 64 };
  assert.is(fittedWorkgroupSize(1, tuning, 8), 8);
  assert.is(fittedWorkgroupSize(9, tuning, 8), 16);
  assert.is(fittedWorkgroupSize(56, tuning, 8), 56);
  assert.is(fittedWorkgroupSize(1000, tuning, 8), 64);
  assert.is(fittedWorkgroupSize(3, tuning, 32), 32);
  assert.is(fittedWorkgroupSize(3, tuning, 0), 8, 'no subgroups: 8 lanes');
});

async function bits(t: Tensor): Promise<number[]> {
  return Array.from(new Uint32Array((await t.toArray()).buffer));
}

test('an image alone gives the bits it gives inside a batch (forward and backward data)', async () => {
  const cases = [
    { c: 32, o: 64, h: 2, w: 2, k: 3, stride: 1, padding: 1 },
    { c: 16, o: 32, h: 3, w: 6, k: 3, stride: 2, padding: 1 },
    { c: 1, o: 8, h: 7, w: 24, k: 7, stride: 2, padding: 3 },
    { c: 32, o: 64, h: 3, w: 3, k: 1, stride: 2, padding: 0 },
  ];
  const variants = sharedLoadsRun() ? (['rows', undefined] as const) : ([undefined] as const);
  for (const [i, s] of cases.entries()) {
    for (const variant of variants) {
      const what = `case ${i} (${variant ?? 'default'})`;
      const n = 16;
      const x = tensor(randomData(n * s.c * s.h * s.w, 10 + i), [n, s.c, s.h, s.w]);
      const weight = tensor(randomData(s.o * s.c * s.k * s.k, 20 + i), [s.o, s.c, s.k, s.k]);
      const options = { stride: s.stride, padding: s.padding, ...(variant ? { variant } : {}) };
      const [whole, alone, dyWhole, dxWhole, dxAlone] = tidy(() => {
        const whole = conv2d(x, weight, null, options);
        const x0 = narrow(x, 0, n - 1, 1);
        const alone = conv2d(x0, weight, null, options);
        const dy = whole;
        const dxWhole = conv2dBackwardData(dy, weight, x.shape, options);
        const dxAlone = conv2dBackwardData(narrow(dy, 0, n - 1, 1), weight, x0.shape, options);
        return [narrow(whole, 0, n - 1, 1), alone, dy, narrow(dxWhole, 0, n - 1, 1), dxAlone];
      });
      assert.equal(await bits(alone), await bits(whole), `${what}: forward`);
      assert.equal(await bits(dxAlone), await bits(dxWhole), `${what}: backward data`);
      for (const t of [x, weight, whole, alone, dyWhole, dxWhole, dxAlone]) t.dispose();
    }
  }
});

test('weight gradient, rows kernel: (channel, tap) lanes give the bits of channel lanes where Cg < 4', async () => {
  if (!sharedLoadsRun()) return;
  const cases = [
    { x: [16, 1, 48, 48], w: [16, 1, 7, 7], stride: 2, padding: 3, groups: 1 },
    { x: [8, 2, 24, 24], w: [16, 1, 7, 7], stride: 2, padding: 3, groups: 2 },
    { x: [4, 3, 9, 11], w: [5, 3, 3, 3], stride: 1, padding: 1, groups: 1 },
    { x: [3, 2, 5, 13], w: [6, 2, 1, 5], stride: 1, padding: [0, 2] as [number, number], groups: 1 },
    { x: [2, 4, 6, 6], w: [8, 2, 3, 3], stride: 1, padding: 1, groups: 2 },
  ];
  for (const [i, c] of cases.entries()) {
    const g = conv2dGeometry(c.x, c.w, { stride: c.stride, padding: c.padding, groups: c.groups });
    assert.ok(rowsTapLanes(g), `case ${i} takes the (channel, tap) lanes`);
    const x = tensor(randomData(c.x.reduce((a, b) => a * b), 1 + i), c.x);
    const dy = tensor(randomData(g.N * g.O * g.OH * g.OW, 50 + i), [g.N, g.O, g.OH, g.OW]);
    const [taps, channels] = tidy(() => [backwardWeight(x, dy, g, 'rows', true), backwardWeight(x, dy, g, 'rows', false)]);
    assert.equal(await bits(taps), await bits(channels), `case ${i}`);
    for (const t of [x, dy, taps, channels]) t.dispose();
  }
});

test.run();
