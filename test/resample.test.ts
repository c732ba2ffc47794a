import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, markedBlock, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { interpolate, affineGrid, gridSample } from '../src/kernels/resample/index.js';
import { interpolateRef, affineGridRef, gridSampleRef, type Shape4 } from './reference/resample.js';
import fixture from './fixtures/resample.json';
import bilinearSource from '../shaders/resample/bilinear.wgsl';
import fusionForwardSource from '../shaders/fusion/forward.wgsl';
import fusionBackwardSource from '../shaders/fusion/backward.wgsl';
import gridForwardSource from '../shaders/resample/grid_sample_forward.wgsl';
import gridBackwardInputSource from '../shaders/resample/grid_sample_backward_input.wgsl';
import gridBackwardGridSource from '../shaders/resample/grid_sample_backward_grid.wgsl';

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


// A theta per batch element: rotation, anisotropic scale and shift, so every entry matters.
function thetas(n: number, seed: number): Float64Array {
  const r = randomData(6 * n, seed, -0.3, 0.3);
  const t = new Float64Array(6 * n);
  for (let b = 0; b < n; b++) {
    const a = 0.5 + r[6 * b];
    t.set([1.1 * Math.cos(a), -Math.sin(a) + r[6 * b + 1], r[6 * b + 2], Math.sin(a), 0.9 * Math.cos(a) + r[6 * b + 3], r[6 * b + 4]], 6 * b);
  }
  return t;
}

test('affineGrid matches the float64 reference, odd sizes and sizes of 1, both alignCorners', async () => {
  for (const alignCorners of [false, true]) {
    for (const [n, h, w] of [[2, 3, 5], [1, 1, 4], [3, 6, 1], [1, 1, 1], [1, 7, 8]]) {
      const t = thetas(n, 5 + h);
      const grid = await run(() => affineGrid(tensor(f32(t), [n, 2, 3]), [n, 4, h, w], { alignCorners }));
      assertClose(grid, affineGridRef(t, n, h, w, alignCorners), `affineGrid [${n},${h},${w}] align ${alignCorners}`);
    }
  }
});

test('affineGrid backward wrt theta passes gradCheck', async () => {
  for (const alignCorners of [false, true]) {
    for (const [n, h, w] of [[2, 3, 5], [1, 1, 1], [1, 6, 1]]) {
      await gradCheck(
        `affineGrid [${n},${h},${w}] align ${alignCorners}`,
        [{ shape: [n, 2, 3], data: thetas(n, 7) }],
        (theta) => affineGrid(theta, [n, 1, h, w], { alignCorners }),
        (theta) => affineGridRef(theta, n, h, w, alignCorners),
      );
    }
  }
});

// Grids reaching past [-1, 1] so that both padding modes matter.
const sampleCases: { shape: Shape4; out: [number, number] }[] = [
  { shape: [2, 3, 4, 5], out: [3, 6] },
  { shape: [1, 1, 1, 1], out: [2, 3] },
  { shape: [1, 2, 7, 1], out: [5, 4] },
  { shape: [1, 1, 3, 3], out: [1, 1] },
];

test('gridSample matches the float64 reference, both padding modes, both alignCorners', async () => {
  for (const paddingMode of ['zeros', 'border'] as const) {
    for (const alignCorners of [false, true]) {
      for (const { shape, out } of sampleCases) {
        const [n] = shape;
        const x = randomData(shape.reduce((a, b) => a * b), 11);
        const g = randomData(n * out[0] * out[1] * 2, 12, -1.4, 1.4);
        const y = await run(() =>
          gridSample(tensor(f32(x), shape), tensor(f32(g), [n, ...out, 2]), { paddingMode, alignCorners }),
        );
        assertClose(y, gridSampleRef(x, shape, g, out, paddingMode, alignCorners), `gridSample [${shape}] ${paddingMode} align ${alignCorners}`);
      }
    }
  }
});

test('gridSample backward wrt input and grid passes gradCheck, both padding modes, both alignCorners', async () => {
  for (const paddingMode of ['zeros', 'border'] as const) {
    for (const alignCorners of [false, true]) {
      for (const { shape, out } of sampleCases) {
        const [n] = shape;
        await gradCheck(
          `gridSample [${shape}] → ${out} ${paddingMode} align ${alignCorners}`,
          [
            { shape: [...shape], data: randomData(shape.reduce((a, b) => a * b), 13) },
            { shape: [n, ...out, 2], data: randomData(n * out[0] * out[1] * 2, 14, -1.4, 1.4) },
          ],
          (x, grid) => gridSample(x, grid, { paddingMode, alignCorners }),
          (x, grid) => gridSampleRef(x, shape, grid, out, paddingMode, alignCorners),
        );
      }
    }
  }
});

test('the spatial transformer (affineGrid then gridSample) passes gradCheck wrt input and theta', async () => {
  const shape: Shape4 = [2, 2, 5, 4];
  for (const alignCorners of [false, true]) {
    await gradCheck(
      `affineGrid + gridSample align ${alignCorners}`,
      [
        { shape: [...shape], data: randomData(80, 15) },
        { shape: [2, 2, 3], data: thetas(2, 16) },
      ],
      (x, theta) => gridSample(x, affineGrid(theta, shape, { alignCorners }), { alignCorners }),
      (x, theta) => gridSampleRef(x, shape, affineGridRef(theta, 2, 5, 4, alignCorners), [5, 4], 'zeros', alignCorners),
    );
  }
});

/** Runs `op` on leaves made from `inputs`, backpropagates sum(out * w) and reads out and the gradients. */
async function forwardBackward(
  inputs: { data: number[]; shape: readonly number[] }[],
  op: (...xs: Tensor[]) => Tensor,
  w: number[],
): Promise<{ out: Float32Array; grads: Float32Array[] }> {
  const leaves = inputs.map((x) => tensor(x.data, x.shape, { requiresGrad: true }));
  const out = op(...leaves);
  out.backward(tensor(w, out.shape));
  const result = { out: await out.toArray(), grads: await Promise.all(leaves.map((l) => l.grad!.toArray())) };
  for (const t of [out, ...leaves, ...leaves.map((l) => l.grad!)]) t.dispose();
  return result;
}

test('interpolate matches PyTorch: up, down, sizes of 1, scale factors, both alignCorners', async () => {
  for (const c of fixture.bilinear) {
    const options = 'size' in c ? { size: c.size as [number, number] } : { scaleFactor: c.scaleFactor as [number, number] };
    const what = `PyTorch interpolate [${c.shape}] ${JSON.stringify(options)} align ${c.alignCorners}`;
    const { out, grads } = await forwardBackward(
      [{ data: c.x, shape: c.shape }],
      (x) => interpolate(x, { ...options, alignCorners: c.alignCorners }),
      c.w,
    );
    assertClose(out, c.out, what);
    assertClose(grads[0], c.dx, `${what} dx`);
  }
});

test('affineGrid + gridSample match PyTorch, with gradients wrt input and theta', async () => {
  for (const c of fixture.transformer) {
    const what = `PyTorch spatial transformer ${c.paddingMode} align ${c.alignCorners}`;
    const options = { paddingMode: c.paddingMode as 'zeros' | 'border', alignCorners: c.alignCorners };
    const grid = await run(() => affineGrid(tensor(c.theta, [2, 2, 3]), c.size, options));
    assertClose(grid, c.grid, `${what} grid`);
    const { out, grads } = await forwardBackward(
      [{ data: c.x, shape: [2, 3, 4, 5] }, { data: c.theta, shape: [2, 2, 3] }],
      (x, theta) => gridSample(x, affineGrid(theta, c.size, options), options),
      c.w,
    );
    assertClose(out, c.out, what);
    assertClose(grads[0], c.dx, `${what} dx`);
    assertClose(grads[1], c.dtheta, `${what} dtheta`);
  }
});

test('gridSample gradients match PyTorch on clamp limits, pixel centres and far outside', async () => {
  for (const c of fixture.grid) {
    const what = `PyTorch gridSample ${c.paddingMode} align ${c.alignCorners}`;
    const options = { paddingMode: c.paddingMode as 'zeros' | 'border', alignCorners: c.alignCorners };
    const { out, grads } = await forwardBackward(
      [{ data: c.x, shape: [1, 2, 3, 4] }, { data: c.grid, shape: [1, 3, 4, 2] }],
      (x, grid) => gridSample(x, grid, options),
      c.w,
    );
    assertClose(out, c.out, what);
    assertClose(grads[0], c.dx, `${what} dx`);
    assertClose(grads[1], c.dgrid, `${what} dgrid`);
  }
});

test('affineGrid and gridSample reject bad shapes naming the op', () => {
  const theta = tensor(new Float32Array(12), [2, 6]);
  assert.throws(() => affineGrid(theta, [2, 1, 3, 3]), /affineGrid: expected theta of shape \[N, 2, 3\], got \[2,6\]/);
  const t = theta.view([2, 2, 3]);
  assert.throws(() => affineGrid(t, [3, 1, 3, 3]), /affineGrid: size \[3,1,3,3\] has batch 3 but theta \[2,2,3\] has batch 2/);
  assert.throws(() => affineGrid(t, [2, 3, 3]), /affineGrid: expected size \[N, C, H, W\] of positive integers, got \[2,3,3\]/);
  const x = tensor(new Float32Array(18), [2, 1, 3, 3]);
  const grid = tensor(new Float32Array(12), [2, 3, 2]);
  assert.throws(() => gridSample(x.view([2, 9]), grid), /gridSample: expected a 4-D input \(N, C, H, W\), got shape \[2,9\]/);
  assert.throws(() => gridSample(x, grid), /gridSample: expected grid of shape \[2, Ho, Wo, 2\] for input \[2,1,3,3\], got \[2,3,2\]/);
  assert.throws(() => gridSample(x, grid.view([1, 3, 2, 2])), /expected grid of shape \[2, Ho, Wo, 2\]/);
  assert.throws(() => gridSample(x, grid.view([2, 1, 3, 2]), { paddingMode: 'reflection' as 'zeros' }), /paddingMode 'reflection' is not supported/);
  for (const v of [theta, t, x, grid]) v.dispose();
});

// WGSL has no imports and our shaders are not concatenated, so rules needed by several shaders are
// copied between marked lines; a copy that drifts would silently break forward/backward agreement.
test('shared WGSL blocks are identical in every shader that carries them', () => {
  const block = (source: string, name: string) => {
    const text = markedBlock(source, name);
    assert.ok(text, `block <${name}> present`);
    return text!;
  };
  for (const source of [fusionForwardSource, fusionBackwardSource]) {
    assert.fixture(block(source, 'axis-rule'), block(bilinearSource, 'axis-rule'));
  }
  assert.fixture(block(fusionBackwardSource, 'fusion-layout'), block(fusionForwardSource, 'fusion-layout'));
  for (const source of [gridBackwardInputSource, gridBackwardGridSource]) {
    assert.fixture(block(source, 'grid-coordinate'), block(gridForwardSource, 'grid-coordinate'));
  }
});

test.run();
