import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { multiDomainFusion } from '../src/kernels/fusion/index.js';
import fixture from './fixtures/resample.json';
import { catRef, interpolateRef, type Shape4 } from './reference/resample.js';

type Part = { data: Float64Array; shape: Shape4 };

/** The official PCNN composition (cat + interpolate, align_corners=True) in float64. */
function fusionRef(parts: Part[], [gh, gw]: readonly [number, number]): Float64Array {
  const widen = (p: Part): Part => ({
    data: interpolateRef(p.data, p.shape, [p.shape[2], gw], true),
    shape: [p.shape[0], p.shape[1], p.shape[2], gw],
  });
  const eyes = widen(catRef([parts[0], parts[1]], 3));
  const cheeks = widen(catRef([parts[2], parts[3]], 3));
  const mouth = parts[4].shape[3] === gw ? parts[4] : widen(parts[4]);
  const stacked = catRef([eyes, cheeks, mouth], 2);
  return interpolateRef(stacked.data, stacked.shape, [gh, gw], true);
}

// [leftEye, rightEye, leftCheek, rightCheek, mouth] shapes and the global size [gh, gw].
const cases: { shapes: Shape4[]; size: [number, number] }[] = [
  // PCNN-like: the mouth is as wide as the global map (stacked as is), the eyes' halves differ in width.
  { shapes: [[2, 3, 4, 3], [2, 3, 4, 4], [2, 3, 2, 3], [2, 3, 2, 4], [2, 3, 3, 7]], size: [6, 7] },
  // The mouth is resized first; everything downsampled.
  { shapes: [[1, 2, 5, 6], [1, 2, 5, 5], [1, 2, 3, 6], [1, 2, 3, 5], [1, 2, 4, 9]], size: [4, 3] },
  // Heights and widths of 1, one channel; output of one pixel and of one column.
  { shapes: [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 2], [1, 1, 1, 1], [1, 1, 1, 1]], size: [1, 1] },
  { shapes: [[1, 1, 2, 1], [1, 1, 2, 2], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 2, 3]], size: [5, 1] },
  { shapes: [[2, 1, 1, 2], [2, 1, 1, 1], [2, 1, 2, 1], [2, 1, 2, 1], [2, 1, 1, 4]], size: [3, 4] },
];

const size4 = (s: Shape4) => s[0] * s[1] * s[2] * s[3];
const makeParts = (shapes: Shape4[], seed: number): Part[] =>
  shapes.map((shape, i) => ({ shape, data: randomData(size4(shape), seed + i) }));
const upload = (p: Part) => tensor(Float32Array.from(p.data), p.shape);
const fuse = (size: [number, number]) => (...xs: Tensor[]) => multiDomainFusion(xs[0], xs[1], xs[2], xs[3], xs[4], size);

test('multiDomainFusion equals the float64 cat + interpolate composition', async () => {
  for (const { shapes, size } of cases) {
    const parts = makeParts(shapes, 1);
    const y = await run(() => fuse(size)(...parts.map(upload)));
    assertClose(y, fusionRef(parts, size), `fusion [${shapes.map((s) => `[${s}]`)}] → ${size}`);
  }
});

test('multiDomainFusion is within float32 rounding of the float64 composition on larger, upsampled maps', async () => {
  // Each output is a convex combination of inputs in [-1, 1], so float32 leaves a few ulps of 1: a wrong
  // tap or weight anywhere (the axis rule) shows far above 1e-6, on sizes whose scales are not exact.
  const larger: typeof cases = [
    // PCNN at 224 x 224: 4 x 4 eyes, 3 x 3 cheeks, a 3 x 7 mouth, a 14 x 14 global map.
    { shapes: [[2, 4, 4, 4], [2, 4, 4, 4], [2, 4, 3, 3], [2, 4, 3, 3], [2, 4, 3, 7]], size: [14, 14] },
    { shapes: [[1, 3, 5, 6], [1, 3, 5, 7], [1, 3, 4, 5], [1, 3, 4, 6], [1, 3, 6, 11]], size: [31, 29] },
  ];
  for (const { shapes, size } of larger) {
    const parts = makeParts(shapes, 2);
    const y = await run(() => fuse(size)(...parts.map(upload)));
    assertClose(y, fusionRef(parts, size), `fusion [${shapes.map((s) => `[${s}]`)}] → ${size}`, { atol: 1e-6, rtol: 1e-6 });
  }
});

test('multiDomainFusion backward (one gather dispatch) passes gradCheck for all five inputs', async () => {
  for (const { shapes, size } of cases) {
    const parts = makeParts(shapes, 3);
    await gradCheck(
      `fusion [${shapes.map((s) => `[${s}]`)}] → ${size}`,
      parts.map((p) => ({ shape: [...p.shape], data: p.data })),
      fuse(size),
      (...xs) => fusionRef(xs.map((data, i) => ({ data, shape: shapes[i] })), size),
    );
  }
});

test('multiDomainFusion matches the authors\' PyTorch composition, with all five gradients', async () => {
  for (const c of fixture.fusion) {
    const what = `PyTorch fusion [${c.shapes.map((s) => `[${s}]`)}] → ${c.size}`;
    const leaves = c.parts.map((data, i) => tensor(data, c.shapes[i], { requiresGrad: true }));
    const out = fuse(c.size as [number, number])(...leaves);
    out.backward(tensor(c.w, out.shape));
    assertClose(await out.toArray(), c.out, what);
    for (const [i, leaf] of leaves.entries()) assertClose(await leaf.grad!.toArray(), c.grads[i], `${what} d${i}`);
    for (const t of [out, ...leaves, ...leaves.map((l) => l.grad!)]) t.dispose();
  }
});

test('multiDomainFusion gives the same map twice the sum of both gradients', async () => {
  const { shapes, size } = cases[0];
  const parts = makeParts(shapes, 4);
  // The right eye is the left eye (same tensor): the autograd tape must sum both paths.
  const same: Shape4[] = [shapes[0], shapes[0], shapes[2], shapes[2], shapes[4]];
  await gradCheck(
    'fusion with shared eye and cheek maps',
    [parts[0], parts[2], parts[4]].map((p) => ({ shape: [...p.shape], data: p.data })),
    (e, k, m) => multiDomainFusion(e, e, k, k, m, size),
    (e, k, m) => fusionRef([e, e, k, k, m].map((data, i) => ({ data, shape: same[i] })), size),
  );
});

test('multiDomainFusion rejects mismatched maps naming the op and the map', () => {
  const t = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b)), shape);
  const ok = [t([2, 3, 4, 3]), t([2, 3, 4, 4]), t([2, 3, 2, 3]), t([2, 3, 2, 4]), t([2, 3, 3, 7])];
  const call = (i: number, bad: Tensor, size: [number, number] = [6, 7]) => () =>
    multiDomainFusion(...(ok.map((p, j) => (j === i ? bad : p)) as [Tensor, Tensor, Tensor, Tensor, Tensor]), size);
  const bad = [t([2, 4, 3, 7]), t([3, 3, 7]), t([2, 3, 5, 4]), t([3, 3, 4, 1])];
  assert.throws(call(4, bad[0]), /multiDomainFusion: mouth has shape \[2,4,3,7\], but every map must share leftEye's batch and channels \[2,3\]/);
  assert.throws(call(1, bad[3]), /multiDomainFusion: rightEye has shape \[3,3,4,1\]/);
  assert.throws(call(3, bad[2]), /multiDomainFusion: leftCheek \[2,3,2,3\] and rightCheek \[2,3,5,4\] are concatenated along the width and need the same height/);
  assert.throws(call(2, bad[1]), /multiDomainFusion: leftCheek must be a 4-D map \(N, C, H, W\) with H, W >= 1, got shape \[3,3,7\]/);
  assert.throws(call(0, ok[0], [0, 7]), /multiDomainFusion: size must be two positive integers \[H, W\] \(the global map's\), got \[0,7\]/);
  for (const p of [...ok, ...bad]) p.dispose();
});

test.run();
