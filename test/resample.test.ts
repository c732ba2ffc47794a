import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { interpolate } from '../src/kernels/resample/index.js';
import { interpolateRef, type Shape4 } from './reference/resample.js';

const f32 = (d: Float64Array) => Float32Array.from(d);

// Up, down, mixed, sizes of 1 on either side, equal sizes, a single channel and batch 1.
const resizes: { shape: Shape4; size: [number, number] }[] = [
  { shape: [2, 3, 4, 5], size: [7, 9] },
  { shape: [1, 2, 9, 7], size: [4, 3] },
  { shape: [1, 1, 5, 6], size: [1, 1] },
  { shape: [2, 1, 1, 1], size: [3, 4] },
  { shape: [1, 2, 3, 8], size: [5, 8] },
  { shape: [1, 1, 6, 1], size: [1, 5] },
];

test('interpolate (bilinear) matches the float64 reference, both alignCorners', async () => {
  for (const alignCorners of [false, true]) {
    for (const { shape, size } of resizes) {
      const x = randomData(shape.reduce((a, b) => a * b), 1);
      const y = await run(() => interpolate(tensor(f32(x), shape), { size, alignCorners }));
      assertClose(y, interpolateRef(x, shape, size, alignCorners), `interpolate [${shape}] → ${size} align ${alignCorners}`);
    }
  }
});

test('interpolate with scaleFactor places pixels by the factor, as PyTorch', async () => {
  const shape: Shape4 = [1, 2, 5, 4];
  const x = randomData(40, 2);
  for (const [factors, alignCorners] of [[[1.5, 0.6], false], [[1.1, 2.5], false], [[1.7, 1.7], true]] as const) {
    const y = await run(() => interpolate(tensor(f32(x), shape), { scaleFactor: factors, alignCorners }));
    const size = [Math.floor(5 * factors[0]), Math.floor(4 * factors[1])] as [number, number];
    assertClose(y, interpolateRef(x, shape, size, alignCorners, factors), `scaleFactor ${factors} align ${alignCorners}`);
  }
});

test('interpolate backward (gather form) passes gradCheck', async () => {
  for (const alignCorners of [false, true]) {
    for (const { shape, size } of resizes) {
      const data = randomData(shape.reduce((a, b) => a * b), 3);
      await gradCheck(
        `interpolate [${shape}] → ${size} align ${alignCorners}`,
        [{ shape: [...shape], data }],
        (x) => interpolate(x, { size, alignCorners }),
        (x) => interpolateRef(x, shape, size, alignCorners),
      );
    }
  }
  const shape: Shape4 = [1, 1, 5, 7];
  await gradCheck(
    'interpolate scaleFactor 1.3',
    [{ shape: [...shape], data: randomData(35, 4) }],
    (x) => interpolate(x, { scaleFactor: 1.3 }),
    (x) => interpolateRef(x, shape, [6, 9], false, [1.3, 1.3]),
  );
});

test('interpolate rejects bad input naming the op', () => {
  const x = tensor(new Float32Array(12), [3, 4]);
  assert.throws(() => interpolate(x, { size: [2, 2] }), /interpolate: expected a 4-D input \(N, C, H, W\), got shape \[3,4\]/);
  const y = x.view([1, 1, 3, 4]);
  assert.throws(() => interpolate(y, {}), /interpolate: give exactly one of size and scaleFactor \(got neither\)/);
  assert.throws(() => interpolate(y, { size: [2, 2], scaleFactor: 2 }), /got both/);
  assert.throws(() => interpolate(y, { size: [0, 2] }), /size must be two positive integers/);
  assert.throws(() => interpolate(y, { scaleFactor: 0.1 }), /gives an empty output \[0,0\]/);
  assert.throws(() => interpolate(y, { size: [2, 2], mode: 'nearest' as 'bilinear' }), /mode 'nearest' is not supported/);
  x.dispose();
  y.dispose();
});

test.run();
