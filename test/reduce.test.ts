import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { assertNoRaces } from './helpers/race.js';
import { reduceRef } from './reference/reduce.js';
import { expandRef } from './reference/shape.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { sum, mean, max, sumToShape } from '../src/kernels/reduce/index.js';
import rowsSource from '../shaders/reduce/reduce_rows.wgsl';

const ops = { sum, mean, max } as const;
const size = (shape: number[]) => shape.reduce((p, s) => p * s, 1);
const t = (data: Float64Array, shape: number[]) => tensor(Float32Array.from(data), shape);

// [shape, dim as passed, the normalized dims it reduces]. Each reduction path is taken: the general
// kernel (short or strided reductions), the workgroup tree over rows (>= 64 contiguous), and the split
// into partial results (few outputs, long reductions), which then reduces its partials again.
const cases: [number[], number | number[] | undefined, number[]][] = [
  [[2, 3, 4], 0, [0]],
  [[2, 3, 4], 1, [1]],
  [[2, 3, 4], -1, [2]],
  [[2, 3, 4], [0, 2], [0, 2]],
  [[2, 3, 4], [-1, -2], [1, 2]],
  [[2, 3, 4], undefined, [0, 1, 2]],
  [[2, 3, 4], [], [0, 1, 2]],
  [[7], 0, [0]],
  [[1, 5, 1], 1, [1]],
  [[3, 100], 1, [1]],
  [[20, 130], -1, [1]],
  [[1500, 3], 0, [0]],
  [[2, 20000], 1, [1]],
  [[5003], undefined, [0]],
  [[3, 2, 700], [0, 2], [0, 2]],
];

test('sum, mean and max match float64 references over any set of dimensions, with and without keepdim', async () => {
  for (const [i, [shape, dim, dims]] of cases.entries()) {
    const x = randomData(size(shape), 30 + i);
    for (const [name, op] of Object.entries(ops)) {
      if (name === 'max' && Array.isArray(dim)) continue;
      for (const keepdim of [false, true]) {
        const out = tidy(() => op(t(x, shape), dim as number, keepdim));
        const expectedShape = keepdim ? shape.map((s, d) => (dims.includes(d) ? 1 : s)) : shape.filter((_, d) => !dims.includes(d));
        assert.equal(out.shape, expectedShape, `${name} shape of [${shape}] dim ${JSON.stringify(dim)} keepdim ${keepdim}`);
        const expected = reduceRef(x, shape, dims, name as 'sum');
        // A float32 sum of n terms of magnitude <= 1 may be off by about n * 2^-24 in the worst case.
        const n = x.length / expected.length;
        assertClose(await out.toArray(), expected, `${name} of [${shape}] over ${JSON.stringify(dim)}`, { atol: 1e-5 + n * 6e-8, rtol: 1e-4 });
        out.dispose();
      }
    }
  }
});

test('0-D inputs, empty reductions and bad dims', async () => {
  assert.equal([...(await run(() => sum(tensor([2.5], []))))], [2.5]);
  const scalar = tidy(() => max(tensor([-4], []), 0));
  assert.equal(scalar.shape, []);
  assert.equal(await scalar.item(), -4);
  scalar.dispose();
  const zeros = tidy(() => sum(tensor([], [0, 3]), 0));
  assert.equal(zeros.shape, [3]);
  assert.equal([...(await zeros.toArray())], [0, 0, 0]);
  zeros.dispose();
  assert.throws(() => mean(tensor([], [0, 3]), 0), /mean: reduces over 0 elements \(shape \[0,3\], dim 0\)/);
  assert.throws(() => max(tensor([], [2, 0]), 1), /max: reduces over 0 elements \(shape \[2,0\], dim 1\)/);
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.throws(() => sum(x, 2), /sum: dimension 2 out of range for a 2-D tensor \(expected -2\.\.1\)/);
  assert.throws(() => sum(x, [1, -1]), /sum: dimension -1 appears more than once/);
  assert.throws(() => max(x, [0] as unknown as number), /max: dim must be one dimension/);
  x.dispose();
});

test('max propagates NaN like torch.max', async () => {
  const values = await run(() => max(tensor([1, NaN, 3, 2, 5, 4], [2, 3]), 1));
  assert.ok(Number.isNaN(values[0]), 'row with NaN');
  assert.is(values[1], 5);
  const long = await run(() => max(tensor(Float32Array.from({ length: 200 }, (_, i) => (i === 150 ? NaN : i)), [200])));
  assert.ok(Number.isNaN(long[0]), 'NaN in a row of the workgroup tree');
  // Gradients: to the first NaN over a dim; split among the NaNs over all elements (torch 1.13).
  const x = tensor([1, NaN, 3, NaN, 2], [1, 5], { requiresGrad: true });
  tidy(() => max(x, 1).backward(tensor([1], [1])));
  assert.equal([...(await x.grad!.toArray())], [0, 1, 0, 0, 0]);
  x.grad!.dispose();
  x.grad = null;
  tidy(() => max(x).backward());
  assert.equal([...(await x.grad!.toArray())], [0, 0.5, 0, 0.5, 0]);
  x.grad!.dispose();
  x.dispose();
});

test('max gradient: first maximal index over a dim, even split over all elements (torch 1.13)', async () => {
  const x = tensor([1, 3, 3, 2, 2, 0], [2, 3], { requiresGrad: true });
  tidy(() => sum(max(x, 1)).backward());
  assert.equal([...(await x.grad!.toArray())], [0, 1, 0, 1, 0, 0]);
  x.grad!.dispose();
  x.grad = null;
  tidy(() => max(x).backward());
  assert.equal([...(await x.grad!.toArray())], [0, 0.5, 0.5, 0, 0, 0]);
  x.grad!.dispose();
  x.dispose();
  // Along a middle dimension: ties between two rows of a [2, 2, 3] tensor.
  const y = tensor([5, 1, 2, 5, 4, 2, 0, 0, 9, 1, 0, 9], [2, 2, 3], { requiresGrad: true });
  tidy(() => max(y, 1).backward(tensor([1, 2, 3, 4, 5, 6], [2, 3])));
  assert.equal([...(await y.grad!.toArray())], [1, 0, 3, 0, 2, 0, 0, 5, 6, 4, 0, 0]);
  y.grad!.dispose();
  y.dispose();
});

const input = (shape: number[], seed: number) => ({ shape, data: randomData(size(shape), seed) });

test('gradients of sum, mean and max', async () => {
  for (const [shape, dim, dims] of [
    [[2, 3, 4], [0, 2], [0, 2]],
    [[2, 3, 4], 1, [1]],
    [[3, 70], -1, [1]],
    [[5], undefined, [0]],
  ] as [number[], number | number[] | undefined, number[]][]) {
    for (const [name, op] of Object.entries(ops)) {
      if (name === 'max' && Array.isArray(dim)) continue;
      await gradCheck(`${name} [${shape}] ${JSON.stringify(dim)}`, [input(shape, 40)], (x) => op(x, dim as number, true), (x) =>
        reduceRef(x, shape, dims, name as 'sum'),
      );
    }
  }
});

test('sumToShape sums over broadcast dimensions; its gradient broadcasts back', async () => {
  const shape = [2, 3, 4];
  const g = randomData(24, 50);
  const targets: [number[], number[]][] = [
    [[3, 1], [0, 2]],
    [[4], [0, 1]],
    [[], [0, 1, 2]],
    [[2, 1, 4], [1]],
    [[1, 3, 4], [0]],
    [[2, 3, 4], []],
  ];
  for (const [target, dims] of targets) {
    const out = tidy(() => sumToShape(t(g, shape), target));
    assert.equal(out.shape, target);
    assertClose(await out.toArray(), reduceRef(g, shape, dims, 'sum'), `sumToShape to [${target}]`);
    out.dispose();
    await gradCheck(`sumToShape to [${target}]`, [{ shape, data: g }], (x) => sumToShape(x, target), (x) => reduceRef(x, shape, dims, 'sum'));
  }
  // The gradient is expandRef of the upstream gradient: checked once directly as well.
  const x = tensor(Float32Array.from(g), shape, { requiresGrad: true });
  const upstream = randomData(3, 51);
  tidy(() => sumToShape(x, [3, 1]).backward(t(upstream, [3, 1])));
  assertClose(await x.grad!.toArray(), expandRef(upstream, [3, 1], shape), 'sumToShape backward');
  x.grad!.dispose();
  x.dispose();
  assert.throws(() => sumToShape(tensor([1, 2, 3, 4, 5, 6], [2, 3]), [2]), /sumToShape: a gradient of shape \[2,3\] cannot be summed to shape \[2\]/);
});

test('reduce_rows is free of workgroup-memory races', () => {
  for (const OP of [0, 1]) {
    assertNoRaces(rowsSource, `reduce_rows OP=${OP}`, {
      workgroups: [2],
      buffers: { x: Float32Array.from({ length: 140 }, (_, i) => Math.sin(i)), out: new Float32Array(2) },
      uniforms: { rows: 2, rowLength: 70, scale: 1 },
      constants: { OP },
    });
  }
});

test.run();
