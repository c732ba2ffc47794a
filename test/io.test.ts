import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type TensorToSave } from '../src/engine/io/safetensors.js';
import { decodePth, loadPth, pthStateDict, PthTensor, type PthValue } from '../src/engine/io/pth.js';
import { loadWeights } from '../src/fer/checkpoint.js';
import expected from './fixtures/pth/expected.json';

const scratch = mkdtempSync(path.join(tmpdir(), 'pcnn-io-'));

function fixturePath(name: string): string {
  // The bundle runs from .build/<run>/test: walk up to the repository.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'test', 'fixtures', 'pth'))) {
    if (path.dirname(dir) === dir) throw new Error('io.test: test/fixtures/pth not found above the bundle');
    dir = path.dirname(dir);
  }
  return path.join(dir, 'test', 'fixtures', 'pth', name);
}

// ---- safetensors ----

const sample: Record<string, TensorToSave> = {
  weight: { shape: [2, 3], data: Float32Array.of(1.5, -2, 3.25, 1e-30, -0, 7) },
  labels: { shape: [4], data: Int32Array.of(0, -1, 2 ** 31 - 1, -(2 ** 31)) },
  double: { shape: [1, 2], data: Float64Array.of(Math.PI, -1e300) },
  count: { shape: [], data: BigInt64Array.of(-(2n ** 62n)) },
  mask: { shape: [3], data: Uint8Array.of(1, 0, 1), dtype: 'BOOL' },
  half: { shape: [2], data: Uint16Array.of(0x3c00, 0xc000), dtype: 'F16' },
  empty: { shape: [0, 5], data: new Float32Array(0) },
  __proto__: { shape: [1], data: Float32Array.of(42) },
};

test('safetensors round-trips every dtype through an atomically written file', async () => {
  const file = path.join(scratch, 'model.safetensors');
  await saveSafetensors(file, sample, { format: 'pt', epoch: '3' });
  await saveSafetensors(file, sample, { format: 'pt', epoch: '4' }); // replaces the file
  assert.equal(readdirSync(scratch), ['model.safetensors'], 'no temporary file left behind');
  const loaded = await loadSafetensors(file);
  assert.equal(loaded.metadata, { format: 'pt', epoch: '4' });
  assert.equal(Object.keys(loaded.tensors), Object.keys(sample));
  assert.ok(Object.getPrototypeOf(loaded.tensors) === Object.prototype, 'a tensor named __proto__ stays an entry');
  for (const [name, t] of Object.entries(sample)) {
    const got = loaded.tensors[name];
    assert.equal(got.shape, [...t.shape], `${name}: shape`);
    assert.is(got.data.constructor, t.data.constructor, `${name}: array type`);
    assert.equal([...got.data], [...t.data], `${name}: values`);
  }
  assert.equal([loaded.tensors.mask.dtype, loaded.tensors.half.dtype, loaded.tensors.count.dtype], ['BOOL', 'F16', 'I64']);
  const header = Number(readFileSync(file).readBigUInt64LE(0));
  assert.is(header % 8, 0, 'tensor data starts 8-byte aligned');
});

/** A file assembled by hand from the format's definition, independent of the encoder. */
function handMade(header: object, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('safetensors decodes a hand-assembled file (unordered offsets, no padding)', () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
  const bytes = handMade(
    { b: { dtype: 'F32', shape: [3], data_offsets: [8, 20] }, a: { dtype: 'I32', shape: [2], data_offsets: [0, 8] }, __metadata__: { k: 'v' } },
    data,
  );
  const { tensors, metadata } = decodeSafetensors(bytes, 'hand.safetensors');
  assert.equal(metadata, { k: 'v' });
  assert.equal([...tensors.b.data], [3, 4, 5]);
  assert.equal([...tensors.a.data], [...new Int32Array(new Float32Array([1, 2]).buffer)]);
});

test('safetensors: truncated and corrupt files give errors naming the file and the problem', async () => {
  const good = encodeSafetensors(sample);
  const file = path.join(scratch, 'broken.safetensors');
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 5), /truncated: 5 bytes, but a safetensors file starts with an 8-byte header length/],
    [good.subarray(0, 40), /header length \d+ does not fit \(file of 40 bytes/],
    [good.subarray(0, good.length - 3), /header describes \d+ bytes of tensor data but the file holds only \d+ \(truncated\?\)/],
    [Uint8Array.of(...good, 0), /but the file holds \d+ \(trailing bytes\)/],
    [handMade({}, new Uint8Array(0), '{"a": '), /header is not valid UTF-8 JSON/],
    [handMade({}, new Uint8Array(0), '[1, 2]'), /header must be a JSON object/],
    [handMade({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a': unknown or missing dtype "F33"/],
    [handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a': 4 bytes, but F32 \[2\] needs 8/],
    [handMade({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a': shape must be a list of non-negative integers/],
    [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets must be \[begin, end\]/],
    [
      handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor 'b' at bytes 4..8 overlaps the tensor before it/,
    ],
    [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /tensor 'a' at bytes 4..8 leaves a gap after byte 0/],
    [handMade({ __metadata__: { epoch: 3 } }, new Uint8Array(0)), /metadata 'epoch' must be a string, got number/],
  ];
  for (const [bytes, message] of cases) {
    writeFileSync(file, bytes);
    try {
      await loadSafetensors(file);
      assert.unreachable(`expected ${message}`);
    } catch (error) {
      assert.match((error as Error).message, /^loadSafetensors .*broken\.safetensors: /);
      assert.match((error as Error).message, message);
    }
  }
  await loadSafetensors(path.join(scratch, 'missing.safetensors')).then(
    () => assert.unreachable('a missing file loaded'),
    (error: Error) => assert.match(error.message, /reading .*missing\.safetensors: ENOENT/),
  );
});

test('safetensors: bad input to the encoder names the tensor', () => {
  assert.throws(() => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }), /tensor 'w': 3 values for shape \[2,2\] \(4 elements\)/);
  assert.throws(() => encodeSafetensors({ w: { shape: [1], data: new Float32Array(1), dtype: 'I32' } }), /tensor 'w': dtype I32 needs a Int32Array, got a Float32Array/);
  assert.throws(() => encodeSafetensors({ w: { shape: [1], data: new Uint8ClampedArray(1) as unknown as Uint8Array } }), /cannot store a Uint8ClampedArray/);
  assert.throws(() => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }), /'__metadata__' is reserved/);
  assert.throws(() => encodeSafetensors({}, { epoch: 3 as unknown as string }), /metadata 'epoch' must be a string/);
});

// ---- .pth ----

interface Expected {
  dtype: string;
  shape: number[];
  data: (number | null)[];
}

function assertTensors(actual: Record<string, PthValue>, wanted: Record<string, Expected>, what: string): void {
  assert.equal(Object.keys(actual), Object.keys(wanted), `${what}: names in order`);
  for (const [name, e] of Object.entries(wanted)) {
    const t = actual[name];
    assert.ok(t instanceof PthTensor, `${what} ${name}: a tensor`);
    assert.is(t.dtype, e.dtype, `${what} ${name}: dtype`);
    assert.equal(t.shape, e.shape, `${what} ${name}: shape`);
    const values = [...t.data];
    const wantedValues = e.dtype === 'I64' ? e.data.map((v) => BigInt(v!)) : e.data;
    assert.equal(values, wantedValues, `${what} ${name}: values`);
  }
}

test('pth: a plain state_dict (Conv2d + BatchNorm2d) decodes to the values PyTorch saved', async () => {
  const obj = await loadPth(fixturePath('plain.pth'));
  assertTensors(obj as Record<string, PthValue>, expected.plain, 'plain.pth');
  assert.is(pthStateDict(obj), obj);
});

test('pth: a wrapped checkpoint exposes its other entries, and pthStateDict picks state_dict', async () => {
  const obj = (await loadPth(fixturePath('wrapped.pth'))) as Record<string, PthValue>;
  const { state_dict: _, ...rest } = obj;
  assert.equal(rest, expected.wrapped);
  assertTensors(pthStateDict(obj), expected.plain, 'wrapped.pth state_dict');
  assert.throws(() => pthStateDict(rest), /pthStateDict: entry 'epoch' is number, not a tensor/);
});

test('pth: strided and offset views, f64, i32, i64 and 0-d tensors', async () => {
  const bytes = readFileSync(fixturePath('views.pth'));
  assertTensors(decodePth(new Uint8Array(bytes)) as Record<string, PthValue>, expected.views, 'views.pth');
});

test('pth: a pickle that calls os.system is refused by name and never runs', async () => {
  rmSync(expected.evilMarker, { force: true });
  try {
    await loadPth(fixturePath('evil.pth'));
    assert.unreachable('evil.pth loaded');
  } catch (error) {
    assert.match((error as Error).message, /evil\.pth: pickled object 'os\.system' is not a tensor: refusing to load/);
  }
  assert.not.ok(existsSync(expected.evilMarker), 'the command did not run');
});

/** A minimal STORED zip (one entry per name), independent of the reader under test. */
function storedZip(files: Record<string, Uint8Array>): Uint8Array {
  const crc = (b: Uint8Array) => {
    let c = ~0;
    for (const byte of b) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const local: number[] = [];
  const central: number[] = [];
  const u16 = (v: number) => [v & 255, v >>> 8];
  const u32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
  for (const [name, data] of Object.entries(files)) {
    const n = [...new TextEncoder().encode(name)];
    const common = [...u16(20), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(crc(data)), ...u32(data.length), ...u32(data.length), ...u16(n.length), ...u16(0)];
    central.push(...u32(0x02014b50), ...u16(20), ...common, ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(local.length), ...n);
    local.push(...u32(0x04034b50), ...common, ...n);
    for (const byte of data) local.push(byte); // not spread: a large entry would overflow the call stack
  }
  const count = Object.keys(files).length;
  const end = [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count), ...u32(central.length), ...u32(local.length), ...u16(0)];
  return Uint8Array.from([...local, ...central, ...end]);
}

const pickleOf = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : p)));

test('pth: other code-running globals, protocol-4 forms and bad views are refused', () => {
  const shortString = (s: string) => [0x8c, s.length, ...new TextEncoder().encode(s)];
  const cases: [Uint8Array, RegExp][] = [
    // STACK_GLOBAL builtins.eval('...'), protocol 4
    [pickleOf([0x80, 4], shortString('builtins'), shortString('eval'), [0x93], shortString('1'), [0x85, 0x52, 0x2e]), /pickled object 'builtins\.eval' is not a tensor: refusing to load/],
    // INST subprocess.Popen
    [pickleOf([0x80, 2, 0x28], 'isubprocess\nPopen\n', [0x2e]), /pickled object 'subprocess\.Popen' is not a tensor/],
    // A storage class is not callable
    [pickleOf([0x80, 2], 'ctorch\nFloatStorage\n', [0x29, 0x52, 0x2e]), /torch\.FloatStorage cannot be called/],
    // An opcode outside the supported set (PERSID, protocol 0)
    [pickleOf([0x80, 2], 'P1\n', [0x2e]), /unsupported pickle opcode 0x50 \(pickle byte 2\)/],
    [pickleOf([0x80, 2, 0x4b]), /truncated pickle/],
  ];
  for (const [pickle, message] of cases) {
    assert.throws(() => decodePth(storedZip({ 'ckpt/data.pkl': pickle }), 'ckpt.pth'), message);
  }
  // _rebuild_tensor_v2 of a [3] tensor, stride 1, on a FloatStorage of `numel` elements.
  const view = (numel: number) => {
    const storage = pickleOf('(', shortString('storage'), 'ctorch\nFloatStorage\n', shortString('0'), shortString('cpu'), [0x4b, numel, 0x74, 0x51]);
    return pickleOf([0x80, 2], 'ctorch._utils\n_rebuild_tensor_v2\n', '(', [...storage], [0x4b, 0, 0x4b, 3, 0x85, 0x4b, 1, 0x85, 0x89, 0x4e, 0x74, 0x52, 0x2e]);
  };
  assert.throws(
    () => decodePth(storedZip({ 'ckpt/data.pkl': view(2), 'ckpt/data/0': new Uint8Array(8) }), 'ckpt.pth'),
    /tensor \[3\] with stride \[1\] at offset 0 reaches element 2 of storage '0', which holds 2/,
  );
  assert.throws(
    () => decodePth(storedZip({ 'ckpt/data.pkl': view(3), 'ckpt/data/0': new Uint8Array(8) }), 'ckpt.pth'),
    /storage '0' has 8 bytes, expected 3 x F32 = 12/,
  );
  const tensor = decodePth(storedZip({ 'ckpt/data.pkl': view(3), 'ckpt/data/0': new Uint8Array(new Float32Array([1, 2, 3]).buffer) }), 'ckpt.pth');
  assert.ok(tensor instanceof PthTensor && [...tensor.data].join() === '1,2,3', 'the same pickle with a large enough storage loads');
});

/** A pickle of `{ v0: view, v1: view, ... }`: `views` tensors of `shape` and `stride` on one FloatStorage of `numel` elements. */
function viewsPickle(views: number, shape: number[], stride: number[], numel: number): Uint8Array {
  const int = (v: number) => [0x4a, v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24]; // BININT
  const shortString = (s: string) => [0x8c, s.length, ...new TextEncoder().encode(s)];
  const storage = pickleOf('(', shortString('storage'), 'ctorch\nFloatStorage\n', shortString('0'), shortString('cpu'), int(numel), [0x74, 0x51]);
  const view = pickleOf('ctorch._utils\n_rebuild_tensor_v2\n', '(', [...storage], int(0), '(', shape.flatMap(int), [0x74], '(', stride.flatMap(int), [0x74, 0x89, 0x4e, 0x74, 0x52]);
  const entries = Array.from({ length: views }, (_, i) => [...shortString(`v${i}`), ...view]);
  return pickleOf([0x80, 2, 0x7d, 0x28], entries.flat(), [0x75, 0x2e]);
}

test('pth: stride-0 views claiming more elements than the limit are refused quickly, before anything is copied', () => {
  const file = (views: number, shape: number[], stride: number[]) =>
    storedZip({ 'ckpt/data.pkl': viewsPickle(views, shape, stride, 1), 'ckpt/data/0': new Uint8Array(4) });
  const started = Date.now();
  // One view of [2^28, 4] on a single float: 2^30 elements from a file of a few hundred bytes.
  assert.throws(
    () => decodePth(file(1, [2 ** 28, 4], [0, 0]), 'expanded.pth'),
    /loadPth expanded\.pth: tensor \[268435456,4\] with stride \[0,0\] holds 1073741824 elements, and with the 0 of the tensors before it .* more than the limit of 268435456 elements \(loadPth's maxElements option raises it\)/,
  );
  // 2,000 views, each under the limit, together far over it: refused at the view that crosses it.
  assert.throws(() => decodePth(file(2000, [2 ** 20, 4], [0, 0]), 'many.pth'), /many\.pth: tensor \[1048576,4\] .* holds 4194304 elements, and with the 268435456 of the tensors before it/);
  assert.ok(Date.now() - started < 2000, `refused in ${Date.now() - started} ms`);
  // The limit is an option: 3 views of 4 elements fit in 12 and not in 11.
  const small = file(3, [2, 2], [0, 0]);
  assert.throws(() => decodePth(small, 'small.pth', { maxElements: 11 }), /small\.pth: tensor \[2,2\] .* with the 8 of the tensors before it .* limit of 11 elements/);
  const loaded = decodePth(small, 'small.pth', { maxElements: 12 }) as Record<string, PthTensor>;
  assert.equal(Object.keys(loaded), ['v0', 'v1', 'v2']);
  assert.equal([...loaded.v2.data], [0, 0, 0, 0]);
  assert.throws(() => decodePth(small, 'small.pth', { maxElements: -1 }), /small\.pth: maxElements must be a non-negative integer, got -1/);
  // A view whose extent overflows exact integers still lands past the storage's end.
  assert.throws(() => decodePth(file(1, [3, 2], [2 ** 31 - 1, 2 ** 31 - 1]), 'far.pth'), /far\.pth: tensor \[3,2\] with stride .* reaches element \d+ of storage '0', which holds 1/);
});

test('loadWeights: a .pth view is copied only when its data is read, so a shape check can come first', async () => {
  // [2^26, 4] on one float: within maxElements, but copying it would take a GiB and seconds.
  const file = path.join(scratch, 'expanded.pth');
  writeFileSync(file, storedZip({ 'ckpt/data.pkl': viewsPickle(1, [2 ** 26, 4], [0, 0], 1), 'ckpt/data/0': new Uint8Array(new Float32Array([2.5]).buffer) }));
  const started = Date.now();
  const { state } = await loadWeights(file);
  assert.equal(state.v0.shape, [2 ** 26, 4]);
  assert.ok(Date.now() - started < 1000, `loaded in ${Date.now() - started} ms`);
  await loadWeights(file, [], { maxElements: 2 ** 28 - 1 }).then(
    () => assert.unreachable('loaded past its maxElements'),
    (error: Error) => assert.match(error.message, /expanded\.pth: .* the limit of 268435455 elements/),
  );
});

test('pth: a list of half a million items (one APPENDS) loads', () => {
  const count = 500_000;
  const pickle = pickleOf([0x80, 2, 0x5d, 0x28], new Array<number>(count).fill(0x4e), [0x65, 0x2e]); // [None] * count
  const list = decodePth(storedZip({ 'ckpt/data.pkl': pickle }), 'list.pth');
  assert.ok(Array.isArray(list) && list.length === count && list.every((v) => v === null));
});

test('pth: compressed, truncated and corrupt archives give clear errors naming the file', async () => {
  await loadPth(fixturePath('deflated.pth')).then(
    () => assert.unreachable('deflated.pth loaded'),
    (error: Error) => assert.match(error.message, /deflated\.pth: entry 'deflated\/data\.pkl' is compressed \(method 8\)/),
  );
  const good = new Uint8Array(readFileSync(fixturePath('plain.pth')));
  assert.throws(() => decodePth(good.subarray(0, good.length - 30), 'cut.pth'), /loadPth cut\.pth: .*(truncated|corrupt|not a zip)/);
  assert.throws(() => decodePth(good.subarray(0, 100), 'head.pth'), /loadPth head\.pth: not a zip archive/);
  const flipped = good.slice();
  const at = readStoredZipOffset(good, 'plain/data/0');
  flipped[at] ^= 0x40;
  assert.throws(() => decodePth(flipped, 'flipped.pth'), /flipped\.pth: entry 'plain\/data\/0' fails its CRC-32 check/);
  assert.throws(() => decodePth(storedZip({ 'x/other': new Uint8Array(1) }), 'other.pth'), /no <archive>\/data\.pkl entry/);
});

/** Where an entry's data starts, found by searching for its local header's name. */
function readStoredZipOffset(zip: Uint8Array, name: string): number {
  const needle = new TextEncoder().encode(name);
  for (let i = 0; i < zip.length; i++) {
    if (zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 3 && zip[i + 3] === 4) {
      const nameLength = zip[i + 26] | (zip[i + 27] << 8);
      const extraLength = zip[i + 28] | (zip[i + 29] << 8);
      if (nameLength === needle.length && needle.every((b, k) => zip[i + 30 + k] === b)) return i + 30 + nameLength + extraLength;
    }
  }
  throw new Error(`no entry ${name}`);
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
