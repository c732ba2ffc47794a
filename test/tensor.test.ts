import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose } from './helpers/index.js';
import { tensor, full, zeros, ones, randn, empty } from '../src/engine/tensor.js';
import { pool } from '../src/engine/pool.js';
import { tidy, keep } from '../src/engine/scope.js';
import { manualSeed } from '../src/engine/random.js';
import { add } from '../src/kernels/elementwise/index.js';

test('tensor uploads and reads back exactly', async () => {
  const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e3);
  const t = tensor(data, [10, 100]);
  assert.equal(t.shape, [10, 100]);
  assert.equal(t.strides, [100, 1]);
  assert.equal(await t.toArray(), data);
  t.dispose();
});

test('int32 tensors round-trip', async () => {
  const t = tensor(Int32Array.from([3, -1, 7]));
  assert.is(t.dtype, 'int32');
  assert.equal([...(await t.toInt32Array())], [3, -1, 7]);
  t.dispose();
});

test('full and zeros fill every element, including a ragged tail', async () => {
  for (const n of [1, 3, 1023, 1025, 70001]) {
    const t = full([n], 2.5);
    const values = await t.toArray();
    assert.ok(values.every((v) => v === 2.5), `full(${n})`);
    t.dispose();
  }
  const z = zeros([2, 3]);
  assertClose(await z.toArray(), new Float64Array(6), 'zeros');
  z.dispose();
});

test('full, zeros and ones honour dtype int32, bit for bit; int32 values must be int32 integers', async () => {
  // -1 and the extremes are NaN or unusual patterns as float32 words: a float round trip would change them.
  for (const value of [7, -1, 2 ** 31 - 1, -(2 ** 31)]) {
    for (const n of [1, 1025]) {
      const t = full([n], value, { dtype: 'int32' });
      assert.is(t.dtype, 'int32');
      const values = await t.toInt32Array();
      assert.ok(values.every((v) => v === value), `full([${n}], ${value}, int32): got ${values[0]} at 0`);
      t.dispose();
    }
  }
  for (const [make, value] of [[zeros, 0], [ones, 1]] as const) {
    const t = make([2, 3], { dtype: 'int32' });
    assert.is(t.dtype, 'int32');
    assert.equal([...(await t.toInt32Array())], new Array(6).fill(value), `${make.name} int32`);
    t.dispose();
  }
  const negativeZero = full([1], -0);
  assert.ok(Object.is((await negativeZero.toArray())[0], -0), 'float32 -0 keeps its sign');
  negativeZero.dispose();
  assert.throws(() => full([2], 2.5, { dtype: 'int32' }), /full: an int32 tensor holds integers -2147483648\.\.2147483647, got 2\.5/);
  assert.throws(() => full([2], 2 ** 31, { dtype: 'int32' }), /full: an int32 tensor holds integers .*, got 2147483648/);
});

test('randn is reproducible from the seed', async () => {
  manualSeed(42);
  const a = await randn([64]).toArray();
  manualSeed(42);
  const b = await randn([64]).toArray();
  assert.equal(a, b);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.5);
});

test('reshape shares storage; -1 is inferred; bad shapes name the op', async () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const v = t.view([3, -1]);
  assert.equal(v.shape, [3, 2]);
  t.dispose();
  assert.equal([...(await v.toArray())], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => v.view([4, -1]), /reshape: cannot view shape \[3,2\]/);
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2,2\]/);
  v.dispose();
  assert.throws(() => v.buffer, /used after dispose/);
});

test('tidy disposes what it does not return, and the pool reuses buffers', () => {
  const before = pool.memory();
  const kept = tidy(() => {
    empty([1000]);
    const b = empty([1000]);
    keep(empty([10])).dispose();
    return { b };
  });
  assert.is(pool.memory().buffersInUse, before.buffersInUse + 1);
  kept.b.dispose();
  assert.is(pool.memory().bytesInUse, before.bytesInUse);
  const allocated = pool.memory().bytesAllocated;
  tidy(() => empty([1000]));
  assert.is(pool.memory().bytesAllocated, allocated, 'no new buffer for a size seen before');
});

test('pool.trim submits recorded work before destroying free buffers that work still uses', async () => {
  const out = tidy(() => {
    const source = tensor([1, 2, 3, 4]);
    return keep(add(source, source)); // the recorded add reads source, whose buffer is free once tidy closes
  });
  pool.trim();
  assert.equal(Array.from(await out.toArray()), [2, 4, 6, 8]);
  assert.is(pool.memory().bytesAllocated, pool.memory().bytesInUse, 'only buffers in use remain');
  out.dispose();
});

test('int32 data out of the int32 range is refused, not wrapped, before any buffer is taken', () => {
  const before = pool.memory().buffersInUse;
  assert.throws(() => tensor([0, 2 ** 31], undefined, { dtype: 'int32' }), /tensor: int32 data at 1 is 2147483648; an int32 tensor holds integers -2147483648\.\.2147483647/);
  assert.throws(() => tensor(Float64Array.from([-(2 ** 31) - 1]), undefined, { dtype: 'int32' }), /int32 data at 0 is -2147483649/);
  assert.throws(() => tensor([1.5], undefined, { dtype: 'int32' }), /int32 data at 0 is 1\.5/);
  assert.is(pool.memory().buffersInUse, before, 'no buffer taken by a refused tensor');
});

test.run();
