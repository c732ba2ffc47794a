// The bool dtype: one u32 word (0 or 1) per element, made from booleans or 0 / 1 and read back as
// booleans; filled by full / zeros / ones; refused by the ops that need float32.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { tensor, full, zeros, ones, upload, empty } from '../src/engine/tensor.js';
import { Kernel } from '../src/engine/kernel.js';
import { dispatch } from '../src/engine/recorder.js';
import { add } from '../src/kernels/elementwise/index.js';
import { softmax } from '../src/kernels/softmax/index.js';
import { matmul } from '../src/kernels/matmul/index.js';

// Copies each word of a mask, as a float, to show what a kernel binding it as array<u32> reads.
const maskWords = new Kernel(
  'test_mask_words',
  `struct Params { count: u32 }
  @group(0) @binding(0) var<uniform> params: Params;
  @group(0) @binding(1) var<storage, read> mask: array<u32>;
  @group(0) @binding(2) var<storage, read_write> words: array<f32>;
  @compute @workgroup_size(64)
  fn main(@builtin(global_invocation_id) id: vec3u) {
    if (id.x < params.count) {
      words[id.x] = f32(mask[id.x]);
    }
  }`,
);

test('a bool tensor is made from booleans (dtype inferred) or from 0 / 1 with dtype bool', async () => {
  const fromBooleans = tensor([true, false, false, true, true, false], [2, 3]);
  assert.is(fromBooleans.dtype, 'bool');
  assert.equal(fromBooleans.shape, [2, 3]);
  assert.equal(await fromBooleans.toBoolArray(), [true, false, false, true, true, false]);
  const fromNumbers = tensor([0, 1, 1], [3], { dtype: 'bool' });
  assert.equal(await fromNumbers.toBoolArray(), [false, true, true]);
  assert.is(await tensor([true], [], { dtype: 'bool' }).item(), 1);
  const reshaped = fromBooleans.view([3, 2]);
  assert.is(reshaped.dtype, 'bool');
  assert.equal(await reshaped.clone().toBoolArray(), [true, false, false, true, true, false]);
  fromBooleans.dispose();
  fromNumbers.dispose();
});

test('a kernel reads a bool tensor as array<u32> of 0 and 1', async () => {
  const mask = tensor([true, false, true, true, false], [5]);
  const words = empty([5], 'float32', 'test');
  dispatch(maskWords, { workgroups: [1], buffers: { mask, words }, uniforms: { count: 5 } });
  assert.equal([...(await words.toArray())], [1, 0, 1, 1, 0]);
  mask.dispose();
  words.dispose();
});

test('full, zeros and ones make bool tensors, including a ragged tail', async () => {
  for (const n of [1, 5, 1025]) {
    assert.ok((await full([n], true).toBoolArray()).every((v) => v), `full(${n}, true)`);
    assert.ok((await full([n], 1, { dtype: 'bool' }).toBoolArray()).every((v) => v), `full(${n}, 1, bool)`);
    assert.ok((await zeros([n], { dtype: 'bool' }).toBoolArray()).every((v) => !v), `zeros(${n}, bool)`);
    assert.ok((await ones([n], { dtype: 'bool' }).toBoolArray()).every((v) => v), `ones(${n}, bool)`);
  }
  assert.is(full([2], false).dtype, 'bool');
});

test('upload overwrites a bool tensor from booleans or 0 / 1', async () => {
  const mask = zeros([3], { dtype: 'bool' });
  upload(mask, [true, false, true]);
  assert.equal(await mask.toBoolArray(), [true, false, true]);
  upload(mask, [0, 1, 0]);
  assert.equal(await mask.toBoolArray(), [false, true, false]);
  mask.dispose();
});

test('bad bool data is refused, naming the element and what is allowed', () => {
  assert.throws(() => tensor([0, 2, 1], [3], { dtype: 'bool' }), /tensor: bool data at 1 is 2; a bool tensor holds true \/ false or 1 \/ 0/);
  assert.throws(() => tensor([0.5], [1], { dtype: 'bool' }), /bool data at 0 is 0\.5/);
  assert.throws(() => tensor([-1], [1], { dtype: 'bool' }), /bool data at 0 is -1/);
  assert.throws(() => tensor([true, false], [2], { dtype: 'float32' }), /boolean data at 0 for a float32 tensor; booleans make a bool tensor/);
  // Anywhere in the data, not only first: [1, true, 0.5] became float32 [1, 1, 0.5].
  assert.throws(() => tensor([1, true, 0.5] as never), /tensor: boolean data at 1 for a float32 tensor/);
  assert.throws(() => full([2], 3, { dtype: 'bool' }), /full: the value is 3; a bool tensor holds true \/ false or 1 \/ 0/);
  assert.throws(() => full([2], true, { dtype: 'int32' }), /full: the boolean true fills only a bool tensor \(dtype 'bool'\), not int32/);
  assert.throws(() => tensor([true], [1], { requiresGrad: true }), /tensor: only float32 tensors can require gradients, got dtype bool/);
  assert.throws(() => zeros([1], { dtype: 'bool', requiresGrad: true }), /full: only float32 tensors can require gradients/);
});

test('reading a bool tensor the wrong way names the right reader, and the other readers refuse it', async () => {
  const mask = tensor([true], [1]);
  const float = tensor([1], [1]);
  const ints = tensor(Int32Array.of(1), [1]);
  for (const [read, message] of [
    [() => mask.toArray(), /toArray: tensor is bool; use toBoolArray\(\)/],
    [() => mask.toInt32Array(), /toInt32Array: tensor is bool; use toBoolArray\(\)/],
    [() => float.toBoolArray(), /toBoolArray: tensor is float32; use toArray\(\)/],
    [() => ints.toBoolArray(), /toBoolArray: tensor is int32; use toInt32Array\(\)/],
  ] as const) {
    let error: unknown;
    await read().catch((e: unknown) => (error = e));
    assert.ok(error instanceof Error && message.test(error.message), `${String(error)} matches ${message}`);
  }
});

test('ops that need float32 refuse a bool tensor through expectFloat32', () => {
  const mask = tensor([true, false, true, false], [2, 2]);
  const x = tensor([1, 2, 3, 4], [2, 2]);
  assert.throws(() => add(mask, 1), /add: input must be a float32 tensor, got bool of shape \[2,2\]/);
  assert.throws(() => add(x, mask), /add: other must be a float32 tensor, got bool of shape \[2,2\]/);
  assert.throws(() => softmax(mask, -1), /softmax: input must be a float32 tensor, got bool of shape \[2,2\]/);
  assert.throws(() => matmul(mask, x), /float32 tensor, got bool of shape \[2,2\]/);
});

test.run();
