// Clips for models of clips (src/fer/data/clips.ts): fitting L frames to T, the synthetic faces animated
// from neutral, augmentation applied identically to every frame, CK+48-style sequences from index.csv
// (and the real CK+48 when ../shared/data has it), <class>/<clip>/<frame> folders in natural order,
// still images as static clips, and resolveData's clip layouts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { byFrameName, ckplusClips, clipFolder, clipFrameIndices, stillClips, syntheticClips } from '../src/fer/data/clips.js';
import { augment, encodePng, subjectSplit, syntheticFace, type Sample } from '../src/fer/data/index.js';
import { syntheticFrame } from '../src/fer/data/synthetic.js';
import { resolveData } from '../src/fer/datasets.js';
import { Generator } from '../src/engine/random.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-clips-'));

test('clipFrameIndices: evenly spaced first to last when longer, the first frame repeated in front when shorter', () => {
  assert.equal(clipFrameIndices(3, 3), [0, 1, 2]);
  assert.equal(clipFrameIndices(10, 4), [0, 3, 6, 9]);
  assert.equal(clipFrameIndices(5, 1), [4], 'T = 1: the last frame (the apex)');
  assert.equal(clipFrameIndices(2, 5), [0, 0, 0, 0, 1]);
  assert.throws(() => clipFrameIndices(0, 3), /at least one frame/);
});

test('syntheticClips: one person from neutral to the expression, noise per frame; T = 1 is the expression', () => {
  const clips = syntheticClips({ count: 14, frames: 4, seed: 5 });
  const neutral = clips.classNames.indexOf('neutral');
  const plane = 48 * 48;
  const change = (s: Sample, a: number, b: number) => s.image.subarray(a * plane, (a + 1) * plane).reduce((m, v, i) => m + Math.abs(v - s.image[b * plane + i]), 0) / plane;
  for (let i = 0; i < 14; i++) {
    const s = clips.get(i);
    assert.is(s.image.length, 4 * plane);
    assert.is(s.label, clips.label(i));
    if (s.label === neutral) assert.ok(change(s, 0, 3) < 0.05, `neutral clip ${i} stays (noise only): ${change(s, 0, 3)}`);
    else assert.ok(change(s, 0, 3) > change(s, 0, 1), `clip ${i} (${clips.classNames[s.label]}) changes more by the end than at the start`);
  }
  // The last frame is the person's own expression (same face as syntheticFace but for the noise).
  const face = syntheticFace(5, 2);
  const last = syntheticFrame(5, 2, 1, 3);
  assert.ok(face.reduce((m, v, i) => m + Math.abs(v - last[i]), 0) / plane < 0.05);
  assert.is(syntheticClips({ count: 1, frames: 1, seed: 5 }).get(0).image.length, plane);
});

test('augment on a clip [T·C, H, W]: one flip, rotation, crop and erasing box for every frame', () => {
  const frame = syntheticFace(1, 0);
  const clip = new Float32Array(3 * frame.length);
  for (let t = 0; t < 3; t++) clip.set(frame, t * frame.length);
  for (let seed = 0; seed < 20; seed++) {
    const out = augment(clip, [3, 48, 48], new Generator(seed), { geometricP: 1 });
    const first = out.subarray(0, frame.length);
    for (let t = 1; t < 3; t++) assert.equal(Array.from(out.subarray(t * frame.length, (t + 1) * frame.length)), Array.from(first), `seed ${seed}, frame ${t}`);
  }
});

function png(file: string, value: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, encodePng(new Float32Array(16 * 16).fill(value), 1, 16, 16));
}

test('ckplusClips: index.csv sequences ordered by frame, labels and subjects kept, fitted to T; subject folds as for images', () => {
  const root = path.join(dir, 'ck');
  const rows = ['path,label,subject,sequence,frame'];
  const add = (cls: string, subject: string, seq: string, frame: number, value: number) => {
    const rel = `${cls}/${seq}_${frame}.png`;
    png(path.join(root, rel), value);
    rows.push(`${rel},${cls},${subject},${seq},${frame}`);
  };
  // Written out of order: frame 9 before 8.
  add('happy', 'S001', 'S001_001', 9, 0.9);
  add('happy', 'S001', 'S001_001', 8, 0.5);
  add('happy', 'S001', 'S001_001', 10, 1);
  add('sad', 'S002', 'S002_003', 4, 0.2);
  add('sad', 'S002', 'S002_003', 5, 0.3);
  add('sad', 'S003', 'S003_001', 7, 0.1);
  writeFileSync(path.join(root, 'index.csv'), rows.join('\n') + '\n');
  const loaded = ckplusClips(root, 3, { size: [16, 16] });
  assert.equal(loaded.classNames, ['happy', 'sad']);
  assert.is(loaded.samples.length, 3);
  const [a, b, c] = loaded.samples;
  assert.equal([a.label, a.subject, b.subject, c.subject], [0, 'S001', 'S002', 'S003']);
  const means = (s: Sample) => [0, 1, 2].map((t) => s.image.subarray(t * 256, (t + 1) * 256).reduce((m, v) => m + v, 0) / 256);
  means(a).forEach((m, t) => assert.ok(Math.abs(m - [0.5, 0.9, 1][t]) < 0.01, `S001 frame ${t}: ${m}`));
  means(b).forEach((m, t) => assert.ok(Math.abs(m - [0.2, 0.2, 0.3][t]) < 0.01, `S002 padded with its first frame: ${m}`));
  const { test: fold } = subjectSplit(loaded.samples, 3, 1);
  assert.equal(fold.map((s) => s.subject), ['S002']);
  writeFileSync(path.join(dir, 'noseq.csv'), 'x');
  const plain = path.join(dir, 'plain');
  png(path.join(plain, 'happy/a.png'), 0.5);
  writeFileSync(path.join(plain, 'index.csv'), 'path,label,subject\nhappy/a.png,happy,S1\n');
  assert.throws(() => ckplusClips(plain, 3), /no 'sequence' and 'frame' columns/);
});

test('clipFolder: <class>/<clip>/<frame> in natural order; resolveData finds it, and repeats still images as clips', () => {
  assert.equal(['f10.png', 'f2.png', 'f1.png'].sort(byFrameName), ['f1.png', 'f2.png', 'f10.png']);
  const root = path.join(dir, 'clips');
  for (const [cls, clip, n] of [['anger', 'c1', 4], ['anger', 'c2', 2], ['joy', 'c3', 3], ['joy', 'c4', 3], ['anger', 'c5', 3], ['joy', 'c6', 3]] as const) {
    for (let f = 0; f < n; f++) png(path.join(root, cls, clip, `frame${f + 1 === 1 ? 1 : f * 5}.png`), (f + 1) / 10);
  }
  const loaded = clipFolder(root, 3, { size: [16, 16] });
  assert.equal(loaded.classNames, ['anger', 'joy']);
  assert.is(loaded.samples.length, 6);
  const first = loaded.samples[0];
  // c1 has frame1, frame5, frame10, frame15 (values .1 .2 .3 .4): T = 3 takes frames 0, 2, 3 of 4.
  assert.equal([0, 1, 2].map((t) => Math.round(first.image[t * 256] * 10)), [1, 3, 4]);
  const data = resolveData({ data: root, inputSize: 16, inChannels: 1, seed: 0, frames: 3 });
  assert.is(data.train.length + data.test.length, 6);
  assert.match(data.name, /clips of 3 frame/);
  const stills = path.join(dir, 'stills');
  for (const cls of ['a', 'b']) for (let i = 0; i < 5; i++) png(path.join(stills, cls, `${i}.png`), i / 5);
  const still = resolveData({ data: stills, inputSize: 16, inChannels: 1, seed: 0, frames: 2 });
  assert.match(still.name, /still images as clips of 2/);
  const s = (Array.isArray(still.train) ? still.train[0] : (still.train as { get(i: number): Sample }).get(0)) as Sample;
  assert.equal(Array.from(s.image.subarray(0, 256)), Array.from(s.image.subarray(256)));
  assert.is(stillClips([{ image: new Float32Array(4), label: 0, file: 'x' }], 1).length, 1);
  const synthetic = resolveData({ data: 'synthetic', inputSize: 48, inChannels: 1, seed: 0, frames: 3, syntheticCount: 7 });
  assert.is((synthetic.train as { get(i: number): Sample }).get(0).image.length, 3 * 48 * 48);
});

const ck = path.join(repoRoot, '..', 'shared', 'data', 'ckplus48');
test('CK+48 (when ../shared/data has it): 327 sequences of 3 frames, 10 subject folds covering every clip once', () => {
  if (!existsSync(path.join(ck, 'index.csv'))) {
    console.log('  (skipped: no ../shared/data/ckplus48)');
    return;
  }
  const loaded = ckplusClips(ck, 3);
  assert.is(loaded.samples.length, 327);
  assert.is(loaded.skipped.length, 0);
  let total = 0;
  for (let fold = 0; fold < 10; fold++) total += subjectSplit(loaded.samples, 10, fold).test.length;
  assert.is(total, 327);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
