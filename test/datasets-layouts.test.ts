// Every data set the library reads, `--data` reads: FERPlus's and RAF-DB's release layouts, on small
// made-up copies generated here; and the antialiased downscaling every loader applies, against a float64
// reference and on a pattern that plain bilinear sampling aliases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { Generator } from '../src/engine/random.js';
import { resolveData } from '../src/fer/datasets.js';
import {
  encodePng, fer2013Csv, prepareImage, resizeAntialiased, resizeBilinear, FERPLUS_CLASSES, RAFDB_CLASSES, type Dataset, type Image, type Sample,
} from '../src/fer/data/index.js';
import { pcnn } from './helpers/cli.js';

/** resolveData's splits as arrays (a Dataset may also be a lazy { length, get }). */
const samplesOf = (dataset: Dataset): Sample[] => ('get' in dataset ? Array.from({ length: dataset.length }, (_, i) => dataset.get(i)) : [...dataset]);
const scratch = () => mkdtempSync(path.join(tmpdir(), 'pcnn-layouts-'));

/** The message `fn` throws (it must throw), checked to mention each of `parts`. */
function throwsWith(fn: () => unknown, ...parts: string[]): void {
  let message: string | undefined;
  try {
    fn();
  } catch (error) {
    message = (error as Error).message;
  }
  if (message === undefined) assert.unreachable(`expected an error mentioning ${parts.join(', ')}`);
  const missing = parts.filter((part) => !message!.includes(part));
  assert.equal(missing, [], `'${message}' should mention every one of these`);
}

// ---------------------------------------------------------------- antialiased resizing

/**
 * The float64 reference, written directly rather than as taps: each output pixel along an axis is the
 * weighted mean of *all* source pixels, weight max(0, 1 - |j - centre| / halfWidth) with centre
 * (o + 0.5) * s - 0.5 and halfWidth max(s, 1) (s = in / out), normalised over the image. For s <= 1 this
 * tent of width 1 is bilinear interpolation (at the edges the normalisation clamps it to the edge pixel,
 * as torch's bilinear does); for s > 1 it is PIL's antialiasing filter.
 */
function axisWeights(inSize: number, outSize: number): number[][] {
  const s = inSize / outSize;
  const halfWidth = Math.max(s, 1);
  return Array.from({ length: outSize }, (_, o) => {
    const centre = (o + 0.5) * s - 0.5;
    const raw = Array.from({ length: inSize }, (_, j) => Math.max(0, 1 - Math.abs(j - centre) / halfWidth));
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => w / total);
  });
}

function referenceResize(image: Image, height: number, width: number): Float64Array {
  const wy = axisWeights(image.height, height);
  const wx = axisWeights(image.width, width);
  const out = new Float64Array(image.channels * height * width);
  for (let c = 0; c < image.channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let i = 0; i < image.height; i++) {
          for (let j = 0; j < image.width; j++) sum += wy[y][i] * wx[x][j] * image.data[(c * image.height + i) * image.width + j];
        }
        out[(c * height + y) * width + x] = sum;
      }
    }
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol: number): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (atol ${atol})`);
  }
}

function randomImage(channels: number, height: number, width: number, seed: number): Image {
  const g = new Generator(seed);
  return { data: Float32Array.from({ length: channels * height * width }, () => g.random()), channels, height, width };
}

/** Vertical stripes one pixel wide, 0 and 1 alternating: all detail above any smaller grid's Nyquist rate. */
function stripes(side: number): Image {
  return { data: Float32Array.from({ length: side * side }, (_, p) => (p % side) % 2), channels: 1, height: side, width: side };
}

const deviationFromHalf = (data: ArrayLike<number>) => Math.max(...Array.from(data, (v) => Math.abs(v - 0.5)));

test('resizeAntialiased matches a direct float64 triangle-filter reference, shrinking, growing and both', () => {
  const image = randomImage(2, 37, 29, 5);
  // Shrink both axes (by non-integer factors), shrink one and grow the other, grow both, shrink to 1 pixel.
  for (const [height, width] of [[9, 7], [5, 40], [50, 31], [1, 1], [36, 29]]) {
    assertClose(resizeAntialiased(image, height, width).data, referenceResize(image, height, width), `resize to ${height}x${width}`, 2e-6);
  }
  // Growing is plain bilinear: the same as resizeBilinear (checked against torch in data.test.ts).
  assertClose(resizeAntialiased(image, 50, 31).data, resizeBilinear(image, 50, 31).data, 'growing is bilinear', 1e-6);
  // A value worked by hand (PIL's BILINEAR gives it too): [1 2 3 4] to 2 pixels, the first centred on 1.0
  // of the source with half-width 2: weights 0.75, 0.75, 0.25 on 1, 2, 3, over 1.75.
  const row = { data: Float32Array.of(1, 2, 3, 4), channels: 1, height: 1, width: 4 };
  assertClose(resizeAntialiased(row, 1, 2).data, [3 / 1.75, (0.25 * 2 + 0.75 * 3 + 0.75 * 4) / 1.75], '[1 2 3 4] to 2', 1e-6);
  assert.is(resizeAntialiased(image, 37, 29), image, 'the same size is the image itself');
  throwsWith(() => resizeAntialiased(image, 0, 3), 'resizeAntialiased', '0x3');
});

test('resizeAntialiased: one-pixel stripes shrunk 256 -> 48 average to about 0.5, where plain bilinear aliases', () => {
  const image = stripes(256);
  const antialiased = resizeAntialiased(image, 48, 48).data;
  assert.ok(deviationFromHalf(antialiased) < 0.05, `antialiased stripes deviate ${deviationFromHalf(antialiased)} from 0.5`);
  // The pattern is one that fools plain sampling: the test would not tell the two apart otherwise.
  const aliased = resizeBilinear(image, 48, 48).data;
  assert.ok(deviationFromHalf(aliased) > 0.3, `bilinear stripes deviate only ${deviationFromHalf(aliased)} from 0.5`);
});

test('the loaders resize with antialiasing: prepareImage (image files) and fer2013Csv', () => {
  const image = stripes(256);
  const png = encodePng(image.data, 1, 256, 256);
  assert.ok(deviationFromHalf(prepareImage(png, 'stripes.png', 1, [48, 48])) < 0.05, 'prepareImage');
  const dir = scratch();
  const csv = path.join(dir, 'fer.csv');
  const row = Array.from({ length: 48 * 48 }, (_, p) => 255 * ((p % 48) % 2)).join(' ');
  writeFileSync(csv, `emotion,pixels,Usage\n3,${row},Training\n`);
  const [sample] = fer2013Csv(csv, { size: [16, 16] }).samples;
  assertClose(sample.image, resizeAntialiased(stripes(48), 16, 16).data, 'fer2013Csv 48 -> 16', 1e-6);
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- FERPlus's release

const SIZE = 8;
const png = (value: number) => encodePng(new Float32Array(SIZE * SIZE).fill(value), 1, SIZE, SIZE);
const VOTES = 'neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF';

/** FER2013Train/, FER2013Valid/, FER2013Test/: per split, [name, votes] rows (each image filled with its row's index / 10). */
function ferPlusRoot(splits: Record<string, [string, string][]>): string {
  const root = scratch();
  for (const [folder, rows] of Object.entries(splits)) {
    mkdirSync(path.join(root, folder));
    rows.forEach(([name, votes], i) => writeFileSync(path.join(root, folder, name), png(i / 10)));
    // The release's label.csv: no header, name, the face's box in quotes, then the 10 vote counts.
    writeFileSync(path.join(root, folder, 'label.csv'), rows.map(([name, votes]) => `${name},"(0, 0, 48, 48)",${votes}`).join('\n') + '\n');
  }
  return root;
}

test('--data: FERPlus release folders, majority labels over 8 classes, FER2013Train to train and FER2013Test to evaluate', () => {
  const root = ferPlusRoot({
    FER2013Train: [
      ['fer0000000.png', '6,0,0,1,3,0,0,0,0,0'], // neutral 6 of 9 (the single sadness vote discarded)
      ['fer0000001.png', '0,0,0,0,0,0,0,10,0,0'], // contempt, the 8th class
      ['fer0000002.png', '4,4,0,0,2,0,0,0,0,0'], // a tie: no class above half, dropped as unknown
      ['fer0000003.png', '0,0,0,0,0,0,0,0,0,10'], // not a face: dropped
      ['fer0000004.png', '1,1,1,1,1,1,1,1,1,1'], // every vote an outlier: dropped
      ['fer0000005.png', '0,0,2,0,0,0,0,0,8,0'], // 'unknown' wins: dropped
    ],
    FER2013Valid: [['fer0000006.png', '10,0,0,0,0,0,0,0,0,0']],
    FER2013Test: [['fer0000007.png', '0,1,0,0,7,2,0,0,0,0']], // anger 7 of 9
  });
  const data = resolveData({ data: root, inputSize: SIZE, inChannels: 1, seed: 0 });
  assert.equal(data.classNames, FERPLUS_CLASSES);
  assert.is(data.classNames.length, 8);
  const [train, test] = [samplesOf(data.train), samplesOf(data.test)];
  assert.equal(train.map((s) => [path.basename(s.file), data.classNames[s.label]]), [['fer0000000.png', 'neutral'], ['fer0000001.png', 'contempt']]);
  assert.equal(test.map((s) => [path.basename(s.file), data.classNames[s.label]]), [['fer0000007.png', 'anger']]);
  assert.ok([...train, ...test].every((s) => !s.file.includes('FER2013Valid')), 'FER2013Valid is not read');
  assert.ok(data.name.includes('FERPlus'), data.name);
  assertClose(train[1].image, new Float32Array(SIZE * SIZE).fill(0.1), 'the image of fer0000001.png', 0.5 / 255 + 1e-6);
  rmSync(root, { recursive: true, force: true });
});

test('--data: a FERPlus folder without FER2013Test or a label.csv is refused, naming what is missing', () => {
  const noTest = ferPlusRoot({ FER2013Train: [['fer0000000.png', '10,0,0,0,0,0,0,0,0,0']] });
  throwsWith(() => resolveData({ data: noTest, inputSize: SIZE, inChannels: 1, seed: 0 }), 'looks like FERPlus', path.join(noTest, 'FER2013Test'), 'label.csv');
  const noLabels = ferPlusRoot({ FER2013Train: [['fer0000000.png', '10,0,0,0,0,0,0,0,0,0']], FER2013Test: [['fer0000001.png', '10,0,0,0,0,0,0,0,0,0']] });
  rmSync(path.join(noLabels, 'FER2013Test', 'label.csv'));
  throwsWith(() => resolveData({ data: noLabels, inputSize: SIZE, inChannels: 1, seed: 0 }), 'looks like FERPlus', path.join(noLabels, 'FER2013Test', 'label.csv'));
  for (const root of [noTest, noLabels]) rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------- RAF-DB's basic release

/** EmoLabel/list_patition_label.txt and Image/aligned/<name>_aligned.jpg (100x100 colour, as released). */
function rafDbRoot(list: [string, number][]): string {
  const root = scratch();
  mkdirSync(path.join(root, 'EmoLabel'));
  mkdirSync(path.join(root, 'Image', 'aligned'), { recursive: true });
  for (const [name] of list) {
    const rgba = Buffer.alloc(100 * 100 * 4, 128);
    writeFileSync(path.join(root, 'Image', 'aligned', `${name}_aligned.jpg`), jpeg.encode({ data: rgba, width: 100, height: 100 }, 90).data);
  }
  writeFileSync(path.join(root, 'EmoLabel', 'list_patition_label.txt'), list.map(([name, label]) => `${name}.jpg ${label}`).join('\n') + '\n');
  return root;
}

test('--data: RAF-DB basic release, labels 1..7 in RAF-DB order, its own train/test split', () => {
  const root = rafDbRoot([['train_00001', 1], ['train_00002', 7], ['test_0001', 4], ['train_00003', 6], ['test_0002', 3]]);
  const data = resolveData({ data: root, inputSize: SIZE, inChannels: 3, seed: 0 });
  assert.equal(data.classNames, RAFDB_CLASSES);
  assert.equal(data.classNames, ['surprise', 'fear', 'disgust', 'happiness', 'sadness', 'anger', 'neutral']);
  const named = (dataset: Dataset) => samplesOf(dataset).map((s) => [path.basename(s.file), data.classNames[s.label]]);
  assert.equal(named(data.train), [['train_00001_aligned.jpg', 'surprise'], ['train_00002_aligned.jpg', 'neutral'], ['train_00003_aligned.jpg', 'anger']]);
  assert.equal(named(data.test), [['test_0001_aligned.jpg', 'happiness'], ['test_0002_aligned.jpg', 'disgust']]);
  assert.ok(samplesOf(data.train).every((s) => s.image.length === 3 * SIZE * SIZE), 'resized to the input size');
  assert.ok(data.name.includes('RAF-DB'), data.name);
  rmSync(root, { recursive: true, force: true });
});

test('--data: a RAF-DB list without test images, or with a label outside 1..7, is refused naming the list', () => {
  const trainOnly = rafDbRoot([['train_00001', 1]]);
  throwsWith(() => resolveData({ data: trainOnly, inputSize: SIZE, inChannels: 1, seed: 0 }), 'list_patition_label.txt', 'no test image');
  const badLabel = rafDbRoot([['train_00001', 1], ['test_0001', 8]]);
  throwsWith(() => resolveData({ data: badLabel, inputSize: SIZE, inChannels: 1, seed: 0 }), 'list_patition_label.txt:2', "'8'", '1..7');
  for (const root of [trainOnly, badLabel]) rmSync(root, { recursive: true, force: true });
});

test('--help of train and eval names the layouts --data reads', () => {
  for (const command of ['train', 'eval']) {
    const { code, out } = pcnn(command, '--help');
    assert.is(code, 0);
    for (const layout of ['FER2013 .csv', 'train/ and test/', 'index.csv', 'FERPlus', 'FER2013Train/', 'label.csv', 'RAF-DB', 'list_patition_label.txt', 'antialiasing']) {
      assert.ok(out.includes(layout), `${command} --help should mention ${layout}:\n${out}`);
    }
  }
});

test.run();
