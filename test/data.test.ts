// The data layer (CPU only): decoding against PIL, resampling against torch, loaders on tiny
// generated trees, synthetic faces, augmentation, batching; real-data smoke tests skip without ../shared/data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Generator } from '../src/engine/random.js';
import {
  decodeImage, toChannels, resizeBilinear, imageFolder, fer2013Csv, ferPlus, majorityVote, rafDb, ckplus48,
  subjectFolds, subjectSplit, syntheticFaces, syntheticFace, syntheticDataset, SYNTHETIC_CLASSES, hflip, normalize, randomErasing, erasingBox, augment,
  rotate, translate, occludeEyes, occludePatch, rotateBy, EYES, DataLoader, contactSheet, type Sample,
} from '../src/fer/data/index.js';

const FIXTURES = path.resolve('test/fixtures/data');
const DATA = process.env.PCNN_DATA ?? path.resolve('../shared/data');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const json = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
const scratch = () => mkdtempSync(path.join(tmpdir(), 'pcnn-data-'));

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol: number): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (atol ${atol})`);
  }
}

function throwsWith(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (error) {
    const message = (error as Error).message;
    for (const part of parts) assert.ok(message.includes(part), `'${message}' should mention '${part}'`);
    return;
  }
  assert.unreachable(`expected an error mentioning ${parts.join(', ')}`);
}

// ---------------------------------------------------------------- decoding and resampling

test('PNG and JPEG decode to what PIL decodes (PNG exact, JPEG within 3 levels)', () => {
  const expected = json('images.json');
  const channels: Record<string, number> = { 'gray8.png': 1, 'rgb.png': 3, 'rgba.png': 3, 'palette.png': 3, 'bits1.png': 1, 'gray16.png': 1, 'gray.jpg': 1, 'rgb.jpg': 3 };
  for (const [name, want] of Object.entries<{ channels: number; height: number; width: number; data: number[] }>(expected)) {
    const image = decodeImage(fixture(name), name);
    assert.equal([image.channels, image.height, image.width], [want.channels, want.height, want.width], name);
    assert.is(image.channels, channels[name], `${name} channels`);
    close(image.data, want.data, name, name.endsWith('.jpg') ? 3 / 255 : 1e-7);
  }
});

test('corrupt images: errors name the file and the cause', () => {
  throwsWith(() => decodeImage(fixture('truncated.png'), 'truncated.png'), 'decodeImage', 'truncated.png');
  throwsWith(() => decodeImage(fixture('not-an-image.jpg'), 'x/not-an-image.jpg'), 'x/not-an-image.jpg', 'not a PNG or JPEG');
  throwsWith(() => decodeImage(fixture('rgb.jpg').subarray(0, 300), 'cut.jpg'), 'cut.jpg');
});

test('images declaring more than maxMegapixels are refused from their headers, naming file, size and option', () => {
  // rgb.png and rgb.jpg with their declared size rewritten to 20000x20000 (400 MP): nothing else changes.
  const png = new Uint8Array(fixture('rgb.png'));
  new DataView(png.buffer).setUint32(16, 20000);
  new DataView(png.buffer).setUint32(20, 20000);
  const jpg = new Uint8Array(fixture('rgb.jpg'));
  const sof = jpg.findIndex((b, i) => b === 0xff && (jpg[i + 1] === 0xc0 || jpg[i + 1] === 0xc2));
  new DataView(jpg.buffer).setUint16(sof + 5, 20000);
  new DataView(jpg.buffer).setUint16(sof + 7, 20000);
  for (const [bytes, name] of [[png, 'huge.png'], [jpg, 'huge.jpg']] as const) {
    const started = Date.now();
    throwsWith(() => decodeImage(bytes, name), `decodeImage: ${name} declares 20000x20000 pixels (400.0 MP), more than the limit of 64 MP`, 'maxMegapixels option');
    assert.ok(Date.now() - started < 1000, `${name} refused in ${Date.now() - started} ms`);
  }
  const unnamed = png.slice();
  unnamed.set(new TextEncoder().encode('IHDX'), 12);
  throwsWith(() => decodeImage(unnamed, 'unnamed.png'), 'cannot decode unnamed.png'); // no IHDR where it must be: no size to trust
  const small = fixture('gray8.png');
  const { width, height } = decodeImage(small, 'gray8.png');
  throwsWith(() => decodeImage(small, 'gray8.png', { maxMegapixels: (width * height - 1) / 1e6 }), `gray8.png declares ${width}x${height} pixels`);
  assert.is(decodeImage(small, 'gray8.png', { maxMegapixels: (width * height) / 1e6 }).width, width);
  throwsWith(() => decodeImage(small, 'gray8.png', { maxMegapixels: 0 }), 'maxMegapixels must be a positive number, got 0');
});

test('toChannels: ITU-R 601 luma, and gray repeated to RGB', () => {
  const rgb = decodeImage(fixture('rgb.png'));
  const gray = toChannels(rgb, 1);
  const plane = rgb.height * rgb.width;
  const luma = Array.from({ length: plane }, (_, p) => 0.299 * rgb.data[p] + 0.587 * rgb.data[plane + p] + 0.114 * rgb.data[2 * plane + p]);
  close(gray.data, luma, 'luma', 1e-7);
  const back = toChannels(gray, 3);
  for (let c = 0; c < 3; c++) assert.equal(back.data.subarray(c * plane, (c + 1) * plane), gray.data);
  throwsWith(() => toChannels(rgb, 2), 'toChannels', '2');
});

test('resizeBilinear matches torch interpolate(bilinear, align_corners=False, antialias=False)', () => {
  const { shape, input, resize } = json('resample.json');
  const image = { data: Float32Array.from(input), channels: shape[0], height: shape[1], width: shape[2] };
  for (const { size, out } of resize) close(resizeBilinear(image, size[0], size[1]).data, out, `resize to ${size}`, 1e-6);
  throwsWith(() => resizeBilinear(image, 0, 3), 'resizeBilinear', '0x3');
});

test('rotate matches torchvision rotate on tensors (nearest and bilinear, zero fill)', () => {
  const { shape, input, rotate: cases } = json('resample.json');
  for (const { angle, mode, out } of cases) close(rotate(Float32Array.from(input), shape, angle, mode), out, `rotate ${angle} ${mode}`, 1e-6);
  close(rotateBy(Float32Array.from(input), shape, 0), input, 'rotateBy 0', 1e-7);
});

// ---------------------------------------------------------------- loaders

test('imageFolder: sorted classes, recursive, bad files skipped and listed, limits enforced', () => {
  const root = scratch();
  for (const [cls, files] of [['zeta', ['gray8.png', 'rgb.jpg']], ['alpha', ['rgb.png', 'truncated.png']], ['Beta', ['gray.jpg']]] as const) {
    mkdirSync(path.join(root, cls, 'inner'), { recursive: true });
    files.forEach((f, i) => copyFileSync(path.join(FIXTURES, f), path.join(root, cls, i ? `inner/${f}` : f)));
  }
  writeFileSync(path.join(root, 'alpha', 'notes.txt'), 'ignored: not an image extension');
  const loaded = imageFolder(root, { channels: 3, size: [6, 5], maxSkipFraction: 0.25 });
  assert.equal(loaded.classNames, ['Beta', 'alpha', 'zeta']);
  assert.equal(loaded.samples.map((s) => [path.basename(s.file), s.label]), [['gray.jpg', 0], ['rgb.png', 1], ['gray8.png', 2], ['rgb.jpg', 2]]);
  assert.ok(loaded.samples.every((s) => s.image.length === 3 * 6 * 5));
  assert.is(loaded.skipped.length, 1);
  assert.ok(loaded.skipped[0].file.endsWith('truncated.png') && loaded.skipped[0].reason.includes('truncated.png'));
  throwsWith(() => imageFolder(root), '1 of 5 images', 'truncated.png');
  mkdirSync(path.join(root, 'empty'));
  throwsWith(() => imageFolder(root, { maxSkipFraction: 1 }), 'empty', 'no image');
  const bare = scratch();
  throwsWith(() => imageFolder(bare), 'no class sub-folders');
});

const pixels = (v: number) => Array(2304).fill(v).join(' ');

test('fer2013Csv: usage filter, values, malformed rows and labels name the line', () => {
  const dir = scratch();
  const file = path.join(dir, 'fer.csv');
  writeFileSync(file, `emotion,pixels,Usage\n3,${pixels(255)},Training\n0,${pixels(51)},PublicTest\r\n6,${pixels(0)},PrivateTest\n`);
  const all = fer2013Csv(file);
  assert.equal([...all.samples.map((s) => s.label)], [3, 0, 6]);
  assert.equal(all.classNames, ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
  assert.ok(all.samples[1].image.every((v) => v === Math.fround(0.2)));
  const test_ = fer2013Csv(file, { usage: ['PublicTest', 'PrivateTest'], size: [24, 24], channels: 3 });
  assert.equal(test_.samples.map((s) => s.file), [`${file}:3`, `${file}:4`]);
  assert.is(test_.samples[0].image.length, 3 * 24 * 24);
  const bad = (row: string) => (writeFileSync(file, `emotion,pixels,Usage\n3,${pixels(1)},Training\n${row}\n`), () => fer2013Csv(file));
  throwsWith(bad(`1,${pixels(1)} 7,Training`), `${file}:3`, '2305 pixels');
  throwsWith(bad(`1,${pixels(1).replace(/^1/, 'x')},Training`), `${file}:3`, "'x'");
  throwsWith(bad(`1,${pixels(1).replace(/^1/, '256')},Training`), `${file}:3`, "'256'");
  throwsWith(bad(`7,${pixels(1)},Training`), `${file}:3`, "emotion '7'");
  throwsWith(bad(`,${pixels(1)},Training`), `${file}:3`, 'emotion');
  throwsWith(bad(`1,${pixels(1)}`), `${file}:3`, '2 fields');
});

test('fer2013Csv: a line over maxLineLength is refused naming the file and line, before it is split', () => {
  const file = path.join(scratch(), 'fer.csv');
  const longRow = `3,${'1 '.repeat(2 ** 20)}1,Training`; // 2 MiB of pixels on one line
  writeFileSync(file, `emotion,pixels,Usage\n3,${pixels(1)},Training\n${longRow}\n`);
  const started = Date.now();
  throwsWith(() => fer2013Csv(file), `csv: ${file}:3 is ${longRow.length} characters long, more than the limit of 1048576`, 'maxLineLength option');
  assert.ok(Date.now() - started < 1000, `refused in ${Date.now() - started} ms`);
  writeFileSync(file, `emotion,pixels,Usage\n3,${pixels(1)},Training\n`);
  const rowLength = `3,${pixels(1)},Training`.length;
  throwsWith(() => fer2013Csv(file, { maxLineLength: rowLength - 1 }), `${file}:2 is ${rowLength} characters long, more than the limit of ${rowLength - 1}`);
  assert.is(fer2013Csv(file, { maxLineLength: rowLength }).samples.length, 1);
  throwsWith(() => fer2013Csv(file, { maxLineLength: 0 }), 'maxLineLength must be a positive integer, got 0');
});

test('FERPlus majority vote: single votes dropped, strict majority, unknown and NF dropped', () => {
  assert.is(majorityVote([0, 6, 1, 0, 0, 3, 0, 0, 0, 0]), 1);
  assert.is(majorityVote([5, 5, 0, 0, 0, 0, 0, 0, 0, 0]), 8, 'a tie is no majority');
  assert.is(majorityVote([4, 1, 1, 1, 1, 1, 1, 0, 0, 0]), 0, 'single votes are outliers: 4 of 4');
  assert.is(majorityVote([4, 2, 2, 2, 0, 0, 0, 0, 0, 0]), 8, '4 of 10 is no majority');
  assert.is(majorityVote([0, 0, 0, 0, 0, 0, 0, 0, 2, 8]), 9);
  assert.is(majorityVote([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 8);

  const dir = scratch();
  const labels = path.join(dir, 'fer2013new.csv');
  writeFileSync(labels, [
    'Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF',
    'Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0', // neutral 4 of 9 after dropping the 1: no majority
    'Training,fer0000001.png,6,0,0,1,3,0,0,0,0,0', // neutral 6 of 9
    'Training,,0,0,0,0,0,0,0,0,0,10', // no image in FERPlus
    'Training,fer0000003.png,0,0,0,0,0,0,0,0,0,10', // not a face
    'Training,fer0000004.png,0,0,0,0,0,0,0,10,0,0', // contempt
  ].join('\n'));
  const images: Sample[] = [0, 1, 2, 3, 4].map((i) => ({ image: new Float32Array(4).fill(i), label: 0, file: `row${i}` }));
  const result = ferPlus(labels, images);
  assert.equal(result.samples.map((s) => [s.label, s.image[0], s.file]), [[0, 1, 'fer0000001.png'], [7, 4, 'fer0000004.png']]);
  assert.equal(result.dropped, { unknown: 1, notFace: 1, noImage: 1 });
  throwsWith(() => ferPlus(labels, images.slice(1)), '5 rows', '4 images');

  const folder = path.join(dir, 'FER2013Train');
  mkdirSync(folder);
  copyFileSync(path.join(FIXTURES, 'gray8.png'), path.join(folder, 'fer0000009.png'));
  writeFileSync(path.join(folder, 'label.csv'), 'fer0000009.png,"(0, 0, 48, 48)",0,0,8,0,0,0,2,0,0,0\n');
  const named = ferPlus(path.join(folder, 'label.csv'), folder, { size: [3, 5] });
  assert.equal(named.samples.map((s) => s.label), [2]);
  close(named.samples[0].image, decodeImage(fixture('gray8.png')).data, 'FERPlus image', 0);
  writeFileSync(path.join(folder, 'label.csv'), 'fer0000009.png,"(0, 0, 48, 48)",0,0,8,0,0,0,2,0,x,0\n');
  throwsWith(() => ferPlus(path.join(folder, 'label.csv'), folder), 'label.csv:1', 'vote counts');
});

test('rafDb: list_patition_label.txt, aligned image names, labels 1..7 to 0..6, split by prefix', () => {
  const root = scratch();
  mkdirSync(path.join(root, 'EmoLabel'));
  mkdirSync(path.join(root, 'Image', 'aligned'), { recursive: true });
  for (const name of ['train_00001', 'train_00002', 'test_0001']) copyFileSync(path.join(FIXTURES, 'rgb.jpg'), path.join(root, 'Image', 'aligned', `${name}_aligned.jpg`));
  const list = path.join(root, 'EmoLabel', 'list_patition_label.txt');
  writeFileSync(list, 'train_00001.jpg 7\ntrain_00002.jpg 1\ntest_0001.jpg 4\n');
  const train = rafDb(root, { split: 'train', channels: 3, size: [8, 10] });
  assert.equal(train.samples.map((s) => s.label), [6, 0]);
  assert.equal(rafDb(root, { split: 'test' }).samples.map((s) => s.label), [3]);
  writeFileSync(list, 'train_00001.jpg 8\n');
  throwsWith(() => rafDb(root, { split: 'train' }), 'list_patition_label.txt:1', "'8'", '1..7');
});

test('subjectFolds: subjects sorted as strings, rank r in fold r mod k, none in two folds', () => {
  const subjects = ['S9', 'S10', 'S2', 'S10', 'S100', 'S9', 'S11'];
  // Sorted as strings: S10 S100 S11 S2 S9 → ranks 0..4.
  assert.equal([...subjectFolds(subjects, 2)], [0, 0, 1, 0, 1, 0, 0]);
  assert.equal([...subjectFolds(subjects, 5)], [4, 0, 3, 0, 1, 4, 2]);
  throwsWith(() => subjectFolds(subjects, 6), 'k must be an integer in 2..5');
  throwsWith(() => subjectFolds(['S1', undefined], 2), 'subject');
  const samples = subjects.map((subject, i) => ({ image: new Float32Array(1), label: i, file: `${i}`, subject }));
  const { train, test: held } = subjectSplit(samples, 2, 1);
  assert.equal(held.map((s) => s.subject), ['S2', 'S100']);
  assert.is(train.length + held.length, samples.length);
});

test('ckplus48: index.csv labels by sorted class folders, subjects kept, bad label names the line', () => {
  const root = scratch();
  for (const cls of ['surprise', 'anger']) mkdirSync(path.join(root, cls));
  copyFileSync(path.join(FIXTURES, 'gray8.png'), path.join(root, 'surprise', 'S005_001_00000011.png'));
  copyFileSync(path.join(FIXTURES, 'gray8.png'), path.join(root, 'anger', 'S010_004_00000017.png'));
  const index = path.join(root, 'index.csv');
  writeFileSync(index, 'path,label,subject,sequence\nsurprise/S005_001_00000011.png,surprise,S005,S005_001\nanger/S010_004_00000017.png,anger,S010,S010_004\n');
  const loaded = ckplus48(root, { size: [3, 5] });
  assert.equal(loaded.classNames, ['anger', 'surprise']);
  assert.equal(loaded.samples.map((s) => [s.label, s.subject]), [[1, 'S005'], [0, 'S010']]);
  writeFileSync(index, 'path,label,subject\nanger/S010_004_00000017.png,happy,S010\n');
  throwsWith(() => ckplus48(root), 'index.csv:2', "'happy'");
});

test("ckplus48 lastFrame: one image per sequence, its highest frame (numerically), whatever the row order", () => {
  const root = scratch();
  mkdirSync(path.join(root, 'anger'));
  const rows = [['S010_004', 9], ['S010_004', 17], ['S010_004', 10], ['S011_002', 5], ['S011_002', 4]];
  for (const [sequence, frame] of rows) copyFileSync(path.join(FIXTURES, 'gray8.png'), path.join(root, 'anger', `${sequence}_${frame}.png`));
  const index = path.join(root, 'index.csv');
  writeFileSync(index, 'path,label,subject,sequence,frame\n' + rows.map(([q, f]) => `anger/${q}_${f}.png,anger,${String(q).slice(0, 4)},${q},${f}`).join('\n') + '\n');
  assert.equal(ckplus48(root, { size: [3, 5] }).samples.length, 5);
  const last = ckplus48(root, { size: [3, 5], lastFrame: true }).samples;
  assert.equal(last.map((s) => path.basename(s.file)), ['S010_004_17.png', 'S011_002_5.png']);
  // Sequence ids that repeat across subjects name two sequences; an empty frame is refused, not frame 0.
  writeFileSync(index, 'path,label,subject,sequence,frame\nanger/S010_004_9.png,anger,S010,001,9\nanger/S011_002_5.png,anger,S011,001,5\n');
  assert.is(ckplus48(root, { size: [3, 5], lastFrame: true }).samples.length, 2);
  writeFileSync(index, 'path,label,subject,sequence,frame\nanger/S010_004_9.png,anger,S010,001,\n');
  throwsWith(() => ckplus48(root, { lastFrame: true }), 'index.csv:2', 'expected a name and an integer');
  writeFileSync(index, 'path,label,subject\nanger/S010_004_9.png,anger,S010\n');
  throwsWith(() => ckplus48(root, { lastFrame: true }), "no column 'sequence'");
});

// ---------------------------------------------------------------- synthetic faces

test('synthetic faces: deterministic, seed-dependent, balanced, lazy = eager, in [0, 1]', () => {
  const a = syntheticFaces({ count: 23, seed: 5 });
  const b = syntheticFaces({ count: 23, seed: 5 });
  const c = syntheticFaces({ count: 23, seed: 6 });
  assert.equal(a.labels, b.labels);
  a.images.forEach((im, i) => assert.equal(Buffer.from(im.buffer), Buffer.from(b.images[i].buffer), `image ${i} byte for byte`));
  assert.not.equal(a.images[0], c.images[0]);
  assert.equal(a.classNames, ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
  for (let block = 0; block < 3; block++) assert.equal([...a.labels.slice(7 * block, 7 * block + 7)].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.ok(a.images.every((im) => im.length === 48 * 48 && im.every((v) => v >= 0 && v <= 1)));
  const lazy = syntheticDataset({ count: 23, seed: 5 });
  assert.equal(lazy.get(17).image, a.images[17]);
  assert.is(lazy.get(17).label, a.labels[17]);
  const rgb = syntheticFaces({ count: 2, size: 20, channels: 3, seed: 5 });
  assert.is(rgb.images[1].length, 3 * 20 * 20);
  throwsWith(() => syntheticFaces({ count: 1, channels: 2 }), 'channels');
});

test('synthetic faces: an expression changes only the eye, cheek and mouth bands of the same face', () => {
  const size = 48;
  const regions = { forehead: [0, 0.15], eyes: [0.15, 0.5], cheeks: [0.5, 0.65], mouth: [0.65, 0.92], chin: [0.92, 1] } as const;
  const total = Object.fromEntries(Object.keys(regions).map((k) => [k, 0])) as Record<keyof typeof regions, number>;
  for (let index = 0; index < 20; index++) {
    const neutral = syntheticFace(4, index, size, 1, 6);
    for (let expression = 0; expression < 6; expression++) {
      const face = syntheticFace(4, index, size, 1, expression);
      const changed = { eyes: 0, cheeks: 0, mouth: 0 } as Record<string, number>;
      face.forEach((v, p) => {
        const row = Math.floor(p / size) / size;
        const region = (Object.keys(regions) as (keyof typeof regions)[]).find((k) => row >= regions[k][0] && row < regions[k][1])!;
        total[region] += Math.abs(v - neutral[p]);
        if (region in changed) changed[region] += Math.abs(v - neutral[p]);
      });
      assert.ok(changed.eyes > 0.5 || changed.mouth > 0.5, `face ${index}, ${SYNTHETIC_CLASSES[expression]} vs neutral: ${JSON.stringify(changed)}`);
    }
  }
  const all = Object.values(total).reduce((a, b) => a + b, 0);
  assert.ok(total.forehead + total.chin < 0.05 * all, `forehead and chin hold ${(total.forehead + total.chin) / all} of the change`);
  for (const region of ['eyes', 'cheeks', 'mouth'] as const) assert.ok(total[region] > 0.1 * all, `${region}: ${total[region] / all} of the change`);
});

test('synthetic faces: contact sheet (look at it: one row per class)', () => {
  const perClass: Float32Array[][] = Array.from({ length: 7 }, () => []);
  const { images, labels } = syntheticFaces({ count: 7 * 8, seed: 0 });
  images.forEach((im, i) => perClass[labels[i]].push(im));
  const file = path.join(scratch(), 'synthetic-faces.png');
  writeFileSync(file, contactSheet(perClass.flat(), 1, 48, 48, 8));
  const sheet = decodeImage(readFileSync(file));
  assert.equal([sheet.height, sheet.width], [7 * 50 + 2, 8 * 50 + 2]);
});

// ---------------------------------------------------------------- augmentation

const shape = [2, 5, 7] as const;
const ramp = Float32Array.from({ length: 70 }, (_, i) => i / 70);

test('hflip mirrors rows exactly; translate moves with zero fill', () => {
  const flipped = hflip(ramp, shape);
  for (let c = 0; c < 2; c++) for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) assert.is(flipped[(c * 5 + y) * 7 + x], ramp[(c * 5 + y) * 7 + 6 - x]);
  assert.equal(hflip(flipped, shape), ramp);
  const moved = translate(ramp, shape, 2, -3);
  for (let c = 0; c < 2; c++) for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) {
    const [sy, sx] = [y + 2, x - 3];
    assert.is(moved[(c * 5 + y) * 7 + x], sy < 5 && sx >= 0 ? ramp[(c * 5 + sy) * 7 + sx] : 0);
  }
  throwsWith(() => hflip(ramp, [1, 5, 7]), 'hflip', '70 values', '[1,5,7]');
});

test('normalize: (x - mean) / std per channel, exactly', () => {
  const out = normalize(ramp, shape, [0.25, 0.5], [0.5, 2]);
  out.forEach((v, i) => assert.is(v, Math.fround((ramp[i] - (i < 35 ? 0.25 : 0.5)) / (i < 35 ? 0.5 : 2))));
  assert.is(normalize(ramp, shape)[69], Math.fround((ramp[69] - 0.5) / 0.5));
  throwsWith(() => normalize(ramp, shape, [0.5]), 'normalize', '1 values for 2 channels');
  throwsWith(() => normalize(ramp, shape, 0.5, 0), 'std must be positive');
});

test('random erasing: torchvision bounds on area and ratio, box inside, zeros in every channel', () => {
  const g = new Generator(3);
  const [h, w] = [40, 48];
  for (let k = 0; k < 500; k++) {
    const box = erasingBox(g, h, w)!;
    assert.ok(box, 'a box always fits at these scales');
    const { height: bh, width: bw } = box;
    // h = round(sqrt(A r)), w = round(sqrt(A / r)) with A in [0.02, 0.25] * area and r in [0.3, 3.3].
    assert.ok(bh * bw <= (Math.sqrt(0.25 * h * w * 3.3) + 0.5) * (Math.sqrt((0.25 * h * w) / 0.3) + 0.5));
    assert.ok((bh + 0.5) * (bw + 0.5) >= 0.02 * h * w, `area ${bh * bw}`);
    assert.ok(bh / (bw + 0.5) <= 3.3 * 1.5 && bw / (bh + 0.5) <= (1 / 0.3) * 1.5);
    assert.ok(box.top >= 0 && box.left >= 0 && box.top + bh <= h && box.left + bw <= w);
  }
  const erased = randomErasing(ramp, shape, new Generator(1), { p: 1 });
  const draws = new Generator(1);
  draws.random(); // the p test comes first, then get_params
  const box = erasingBox(draws, 5, 7)!;
  for (let c = 0; c < 2; c++) for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) {
    const inside = y >= box.top && y < box.top + box.height && x >= box.left && x < box.left + box.width;
    assert.is(erased[(c * 5 + y) * 7 + x], inside ? 0 : ramp[(c * 5 + y) * 7 + x], `(${c}, ${y}, ${x})`);
  }
  assert.is(randomErasing(ramp, shape, new Generator(1), { p: 0 }), ramp);
});

test('augment: seeded, the paper recipe reduces to normalisation when its parts are off', () => {
  const image = syntheticFaces({ count: 1, size: 16, seed: 2 }).images[0];
  const s = [1, 16, 16] as const;
  const one = augment(image, s, new Generator(9));
  assert.equal(augment(image, s, new Generator(9)), one);
  assert.equal(augment(image, s, new Generator(9), { flip: false, geometricP: 0, erasing: false }), normalize(image, s));
  const flips = Array.from({ length: 40 }, (_, k) => augment(image, s, new Generator(k), { geometricP: 0, erasing: false }));
  const flipped = flips.filter((x) => x.every((v, i) => v === normalize(hflip(image, s), s)[i])).length;
  assert.ok(flipped > 8 && flipped < 32, `${flipped} of 40 flipped`);
  const rotated = augment(image, s, new Generator(4), { flip: false, geometricP: 1, erasing: false, cropPadding: 0 });
  assert.not.equal(rotated, normalize(image, s));
});

test('robustness: eye occlusion box, seeded patch', () => {
  const s = [1, 10, 10] as const;
  const ones = new Float32Array(100).fill(1);
  const eyes = occludeEyes(ones, s);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) {
    const inside = y >= EYES.top * 10 && y < EYES.bottom * 10 && x >= EYES.left * 10 && x < EYES.right * 10;
    assert.is(eyes[y * 10 + x], inside ? 0 : 1, `(${y}, ${x})`);
  }
  const patch = occludePatch(ones, s, 0.3, 11);
  assert.equal(patch, occludePatch(ones, s, 0.3, 11));
  assert.is(patch.filter((v) => v === 0).length, 9);
});

// ---------------------------------------------------------------- batching

const tiny = (n: number): Sample[] => Array.from({ length: n }, (_, i) => ({ image: new Float32Array(6).fill(i), label: i % 3, file: `s${i}` }));

test('DataLoader: epoch order is f(seed, epoch), covers the dataset, drop_last, batch layout', async () => {
  const data = tiny(10);
  const loader = new DataLoader(data, { batchSize: 4, shape: [1, 2, 3], seed: 7 });
  assert.is(loader.length, 3);
  const order = loader.order(2);
  assert.equal([...order].sort((a, b) => a - b), [...Array(10).keys()]);
  assert.equal(new DataLoader(data, { batchSize: 3, shape: [1, 2, 3], seed: 7 }).order(2), order);
  assert.not.equal(loader.order(3), order);
  const batches = [];
  for await (const batch of loader.epoch(2)) batches.push(batch);
  assert.equal(batches.map((b) => b.y.length), [4, 4, 2]);
  assert.equal(batches.flatMap((b) => [...b.indices]), [...order]);
  for (const { x, y, indices } of batches) indices.forEach((idx, r) => (assert.ok(x.subarray(6 * r, 6 * r + 6).every((v) => v === idx)), assert.is(y[r], idx % 3)));
  const dropping = new DataLoader(data, { batchSize: 4, shape: [1, 2, 3], dropLast: true, shuffle: false });
  assert.is(dropping.length, 2);
  assert.equal([...dropping.batch(0, 1).indices], [4, 5, 6, 7]);
  throwsWith(() => new DataLoader(data, { batchSize: 4, shape: [1, 2, 2] }).batch(0, 0), 'sample', '6 values', '[1,2,2]');
});

test('DataLoader: prefetched, resumed and synchronous batches agree, augmentation included', async () => {
  const dataset = syntheticDataset({ count: 9, size: 12, seed: 3 });
  const options = { batchSize: 4, shape: [1, 12, 12] as const, seed: 1, transform: augment, chunk: 1 };
  const loader = new DataLoader(dataset, options);
  const served = [];
  for await (const batch of loader.epoch(5)) served.push(batch);
  const resumed = [];
  for await (const batch of new DataLoader(dataset, options).epoch(5, 1)) resumed.push(batch);
  assert.equal(resumed, served.slice(1));
  assert.equal(new DataLoader(dataset, options).batch(5, 2), served[2]);
  assert.is(loader.stats.batches, 3);
  assert.ok(loader.stats.prepareMs > 0);
});

// ---------------------------------------------------------------- real data (skipped when absent)

const real = existsSync(path.join(DATA, 'ckplus48', 'index.csv')) ? test : test.skip;

real('CK+48 (real): 981 faces, 118 subjects, class counts, 10 subject folds', () => {
  const { samples, classNames, skipped } = ckplus48(path.join(DATA, 'ckplus48'));
  assert.is(samples.length, 981);
  assert.is(skipped.length, 0);
  const counts = classNames.map((_, c) => samples.filter((s) => s.label === c).length);
  assert.equal(Object.fromEntries(classNames.map((n, c) => [n, counts[c]])), { anger: 135, contempt: 54, disgust: 177, fear: 75, happy: 207, sadness: 84, surprise: 249 });
  const folds = subjectFolds(samples.map((s) => s.subject), 10);
  const subjectsIn = Array.from({ length: 10 }, (_, f) => new Set(samples.filter((_, i) => folds[i] === f).map((s) => s.subject)));
  assert.is(subjectsIn.reduce((n, s) => n + s.size, 0), 118, 'every subject in exactly one fold');
  assert.ok(subjectsIn.every((s) => s.size === 11 || s.size === 12));
  assert.is(ckplus48(path.join(DATA, 'ckplus48'), { lastFrame: true }).samples.length, 327, 'one image per sequence');
});

real('FER2013 (real): JPEG faces decode to 48x48 gray', () => {
  const rows = readFileSync(path.join(DATA, 'fer2013', 'index.csv'), 'utf8').trim().split('\n').slice(1, 41);
  for (const row of rows) {
    const file = path.join(DATA, 'fer2013', row.split(',')[0]);
    const image = decodeImage(readFileSync(file), file);
    assert.equal([image.channels, image.height, image.width], [1, 48, 48], file);
  }
});

test.run();
