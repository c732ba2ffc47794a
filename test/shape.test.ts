import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData as float64Data } from './helpers/index.js';
import { catRef, expandRef, narrowRef, numel, padRef, permuteRef } from './reference/shape.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { reshape, flatten, permute, transpose, narrow, cat, pad, expand } from '../src/kernels/shape/index.js';

// Copies are exact: data already representable in float32 must come back bit for bit.
const randomData = (n: number, seed: number) => float64Data(n, seed).map(Math.fround);
const t = (data: Float64Array, shape: number[]) => tensor(Float32Array.from(data), shape);
const input = (shape: number[], seed: number) => ({ shape, data: randomData(numel(shape), seed) });

/** Runs `op` without grad, checks the result's shape and values against the reference. */
async function check(what: string, op: () => Tensor, shape: number[], expected: Float64Array): Promise<void> {
  const out = tidy(op);
  assert.equal(out.shape, shape, `${what}: shape`);
  assertClose(await out.toArray(), expected, what, { atol: 0, rtol: 0 });
  out.dispose();
}

test('reshape and flatten are views with inferred and merged sizes', async () => {
  const x = randomData(24, 1);
  await check('reshape -1', () => reshape(t(x, [2, 3, 4]), [4, -1]), [4, 6], x);
  await check('flatten default (nn.Flatten)', () => flatten(t(x, [2, 3, 4])), [2, 12], x);
  await check('flatten all', () => flatten(t(x, [2, 3, 4]), 0), [24], x);
  await check('flatten middle', () => flatten(t(x, [2, 3, 4]), 0, 1), [6, 4], x);
  await check('flatten one dim', () => flatten(t(x, [2, 3, 4]), -1, -1), [2, 3, 4], x);
  await check('flatten 0-D', () => flatten(tensor([7], [])), [1], Float64Array.of(7));
  assert.throws(() => flatten(t(x, [2, 3, 4]), 2, 1), /flatten: startDim 2 comes after endDim 1 for a tensor of shape \[2,3,4\]/);
  assert.throws(() => flatten(t(x, [24]), 1), /flatten: dimension 1 out of range for a 1-D tensor/);
  await gradCheck('reshape', [input([2, 3, 4], 2)], (a) => reshape(a, [6, 4]), (a) => a);
  await gradCheck('flatten', [input([2, 3, 4], 3)], (a) => flatten(a), (a) => a);
});

test('permute and transpose match the reference, forward and backward', async () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4], [1, 0, 2]],
    [[2, 3, 4], [0, 1, 2]],
    [[5], [0]],
    [[2, 1, 3, 2, 3], [4, 2, 0, 3, 1]],
    [[3, 1027], [1, 0]],
    [[0, 3], [1, 0]],
  ];
  for (const [shape, dims] of cases) {
    const x = randomData(numel(shape), 4);
    await check(`permute [${shape}] by [${dims}]`, () => permute(t(x, shape), dims), dims.map((d) => shape[d]), permuteRef(x, shape, dims));
    if (numel(shape) > 0 && numel(shape) < 100) {
      await gradCheck(`permute [${shape}] by [${dims}]`, [{ shape, data: x }], (a) => permute(a, dims), (a) => permuteRef(a, shape, dims));
    }
  }
  const x = randomData(24, 5);
  await check('transpose -1 -3', () => transpose(t(x, [2, 3, 4]), -1, -3), [4, 3, 2], permuteRef(x, [2, 3, 4], [2, 1, 0]));
  await gradCheck('transpose', [{ shape: [2, 3, 4], data: x }], (a) => transpose(a, 0, 1), (a) => permuteRef(a, [2, 3, 4], [1, 0, 2]));
  assert.throws(() => permute(t(x, [2, 3, 4]), [0, 0, 1]), /permute: dims \[0,0,1\] are not a permutation of the 3 dimensions of shape \[2,3,4\]/);
  assert.throws(() => permute(t(x, [2, 3, 4]), [0, 1]), /permute: dims \[0,1\] are not a permutation/);
});

test('narrow matches the reference along every dimension, with negative starts and empty results', async () => {
  const shape = [3, 4, 5];
  const x = randomData(60, 6);
  const cases: [number, number, number, number][] = [
    // dim, start as passed, start resolved, length
    [0, 1, 1, 2],
    [1, 1, 1, 2],
    [-1, 2, 2, 3],
    [2, -2, 3, 2],
    [1, 4, 4, 0],
    [0, 0, 0, 3],
  ];
  for (const [dim, start, first, length] of cases) {
    const d = dim < 0 ? dim + 3 : dim;
    const outShape = shape.map((s, i) => (i === d ? length : s));
    await check(`narrow dim ${dim} start ${start} length ${length}`, () => narrow(t(x, shape), dim, start, length), outShape, narrowRef(x, shape, d, first, length));
    if (length > 0) {
      await gradCheck(`narrow dim ${dim} start ${start}`, [{ shape, data: x }], (a) => narrow(a, dim, start, length), (a) => narrowRef(a, shape, d, first, length));
    }
  }
  assert.throws(() => narrow(t(x, shape), 1, 3, 2), /narrow: start 3 and length 2 do not fit dimension 1 of size 4 \(shape \[3,4,5\]\)/);
  assert.throws(() => narrow(t(x, shape), 3, 0, 1), /narrow: dimension 3 out of range for a 3-D tensor/);
});

test('cat joins along any dimension, forward and backward', async () => {
  const cases: [number[][], number][] = [
    [[[2, 3], [1, 3], [4, 3]], 0],
    [[[2, 3, 2], [2, 1, 2], [2, 4, 2]], 1],
    [[[2, 3], [2, 5]], -1],
    [[[3, 2]], 1],
    [[[0, 3], [2, 3]], 0],
    // More contiguous runs than are worth one copyBufferToBuffer each: the strided kernel.
    [[[70, 2], [70, 1]], 1],
  ];
  for (const [shapes, dim] of cases) {
    const parts = shapes.map((s, k) => randomData(numel(s), 10 + k));
    const d = dim < 0 ? dim + shapes[0].length : dim;
    const outShape = shapes[0].map((s, i) => (i === d ? shapes.reduce((sum, sh) => sum + sh[d], 0) : s));
    await check(`cat ${JSON.stringify(shapes)} dim ${dim}`, () => cat(shapes.map((s, k) => t(parts[k], s)), dim), outShape, catRef(parts, shapes, d));
    if (shapes.every((s) => numel(s) > 0)) {
      await gradCheck(
        `cat ${JSON.stringify(shapes)} dim ${dim}`,
        shapes.map((shape, k) => ({ shape, data: parts[k] })),
        (...xs) => cat(xs, dim),
        (...xs) => catRef(xs, shapes, d),
      );
    }
  }
  assert.throws(() => cat([]), /cat: expected a non-empty list of tensors/);
  assert.throws(
    () => cat([tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [2, 4])], 0),
    /cat: tensor 1 has shape \[2,4\], tensor 0 has shape \[2,3\]; all sizes must match except along dimension 0/,
  );
});

test('pad follows F.pad (last dimension first), with a value and cropping negative pads', async () => {
  const shape = [2, 3, 4];
  const x = randomData(24, 7);
  const cases: [number[], number][] = [
    [[1, 2], 0],
    [[0, 0, 2, 1], 0.5],
    [[1, 1, 1, 1, 1, 1], -3],
    [[-1, 2], 0],
    [[-1, -2, 1, -1], 0],
    [[], 0],
  ];
  for (const [pads, value] of cases) {
    const outShape = shape.map((s, d) => s + (pads[2 * (2 - d)] ?? 0) + (pads[2 * (2 - d) + 1] ?? 0));
    await check(`pad [${pads}] value ${value}`, () => pad(t(x, shape), pads, value), outShape, padRef(x, shape, pads, value));
    await gradCheck(`pad [${pads}]`, [{ shape, data: x }], (a) => pad(a, pads, value), (a) => padRef(a, shape, pads, value));
  }
  assert.throws(() => pad(t(x, shape), [1, 2, 3]), /pad: pads \[1,2,3\] for a tensor of shape \[2,3,4\]; expected an even number of integers, at most 6/);
  assert.throws(() => pad(t(x, shape), [1, 1, 1, 1, 1, 1, 1, 1]), /pad: pads \[1,1,1,1,1,1,1,1\]/);
  assert.throws(() => pad(t(x, shape), [-3, -2]), /pad: pads \[-3,-2\] crop the shape \[2,3,4\] to \[2,3,-1\]/);
});

test('expand broadcasts to a new contiguous tensor; its gradient sums back', async () => {
  const x = randomData(3, 8);
  await check('expand [3,1] to [2,3,4]', () => expand(t(x, [3, 1]), [2, 3, 4]), [2, 3, 4], expandRef(x, [3, 1], [2, 3, 4]));
  await check('expand with -1', () => expand(t(x, [3, 1]), [-1, 5]), [3, 5], expandRef(x, [3, 1], [3, 5]));
  await gradCheck('expand', [{ shape: [3, 1], data: x }], (a) => expand(a, [2, 3, 4]), (a) => expandRef(a, [3, 1], [2, 3, 4]));
  assert.throws(() => expand(t(x, [3, 1]), [2, 4]), /expand: shape \[3,1\] cannot be expanded to \[2,4\]/);
});

test.run();
