// Paths the loaders and predict are given: an index.csv row leading outside the data root, class folders
// symlinked to the root or into another class, a folder or missing file given to predict, and two inputs
// of the same base name (whose prediction PNGs overwrote one another).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { ckplus48, imageFolder } from '../src/fer/data/index.js';
import { predictImages } from '../src/pcnn/predict.js';
import { predictionPaths } from '../src/fer/predict.js';
import { PCNN } from '../src/pcnn/model.js';

const image = path.join(repoRoot, 'test', 'fixtures', 'data', 'gray8.png');
const scratch = () => mkdtempSync(path.join(tmpdir(), 'pcnn-data-paths-'));

/** A CK+48-like root: class folders anger and surprise with one image each, and `rows` as index.csv. */
function ckRoot(rows: string[]): string {
  const root = scratch();
  for (const cls of ['anger', 'surprise']) {
    mkdirSync(path.join(root, cls));
    copyFileSync(image, path.join(root, cls, 'a.png'));
  }
  writeFileSync(path.join(root, 'index.csv'), ['path,label,subject', ...rows].join('\n') + '\n');
  return root;
}

test('ckplus48 refuses an index.csv row whose path leads outside the data root, naming the row', () => {
  const outside = scratch();
  copyFileSync(image, path.join(outside, 'x.png'));
  const root = ckRoot(['anger/a.png,anger,S1', `../${path.basename(outside)}/x.png,surprise,S2`]);
  assert.throws(
    () => ckplus48(root, { size: [3, 5] }),
    (e: Error) => e.message === `ckplus48: ${path.join(root, 'index.csv')}:3 has path '../${path.basename(outside)}/x.png', which leads outside the data root ${root}; expected a path under it`,
  );
  assert.throws(() => ckplus48(ckRoot([`${image},anger,S1`]), { size: [3, 5] }), /index\.csv:2 has path '.*gray8\.png', which leads outside the data root/);
  assert.throws(() => ckplus48(ckRoot([',anger,S1']), { size: [3, 5] }), /^ckplus48: .*index\.csv:2 has no path$/);
  const fine = ckplus48(ckRoot(['anger/a.png,anger,S1', 'surprise/../surprise/a.png,surprise,S2']), { size: [3, 5] });
  assert.equal(fine.samples.map((s) => s.label), [0, 1]);
  assert.is(fine.skipped.length, 0);
});

test('imageFolder refuses a class folder symlinked to the root, above it, or into another class', () => {
  const root = scratch();
  for (const cls of ['anger', 'happy']) {
    mkdirSync(path.join(root, cls, 'inner'), { recursive: true });
    copyFileSync(image, path.join(root, cls, 'inner', 'a.png'));
  }
  assert.is(imageFolder(root, { size: [3, 5] }).samples.length, 2);
  symlinkSync(root, path.join(root, 'loop'));
  assert.throws(
    () => imageFolder(root, { size: [3, 5] }),
    (e: Error) => e.message.startsWith(`imageFolder: class folder ${path.join(root, 'loop')} leads to `) && e.message.endsWith(`the data root ${root} or a folder above it; every sample would be read again under class 'loop'`),
  );

  const nested = path.join(scratch(), 'data');
  mkdirSync(path.join(nested, 'anger'), { recursive: true });
  copyFileSync(image, path.join(nested, 'anger', 'a.png'));
  symlinkSync(path.dirname(nested), path.join(nested, 'up'));
  assert.throws(() => imageFolder(nested, { size: [3, 5] }), /class folder .*up leads to .*, the data root .* or a folder above it/);

  const shared = scratch();
  for (const cls of ['anger', 'happy']) {
    mkdirSync(path.join(shared, cls, 'inner'), { recursive: true });
    copyFileSync(image, path.join(shared, cls, 'inner', 'a.png'));
  }
  symlinkSync(path.join(shared, 'happy', 'inner'), path.join(shared, 'joy'));
  assert.throws(
    () => imageFolder(shared, { size: [3, 5] }),
    /^imageFolder: class folder .*joy leads to .*happy\/inner, inside class folder .*happy \(.*\); its samples would be counted under both classes$/,
  );
  // A class folder symlinked to a folder outside the root is an ordinary class.
  const elsewhere = scratch();
  copyFileSync(image, path.join(elsewhere, 'b.png'));
  const linked = scratch();
  mkdirSync(path.join(linked, 'anger'));
  copyFileSync(image, path.join(linked, 'anger', 'a.png'));
  symlinkSync(elsewhere, path.join(linked, 'sad'));
  const loaded = imageFolder(linked, { size: [3, 5] });
  assert.equal(loaded.classNames, ['anger', 'sad']);
  assert.equal(loaded.samples.map((s) => s.label), [0, 1]);
});

test('predictionPaths: inputs of the same base name get suffixed PNGs, in the order given', () => {
  assert.equal(predictionPaths(['a/face.png', 'b/face.png', 'c/face.jpg', 'face-2.png', 'Face.PNG', 'd/other.png'], 'out'), [
    path.join('out', 'face.prediction.png'),
    path.join('out', 'face-2.prediction.png'),
    path.join('out', 'face-3.prediction.png'),
    path.join('out', 'face-2-2.prediction.png'),
    path.join('out', 'Face-4.prediction.png'),
    path.join('out', 'other.prediction.png'),
  ]);
});

test('predict writes one PNG per input though base names coincide; a folder or missing file is named', async () => {
  const dir = scratch();
  for (const sub of ['a', 'b']) {
    mkdirSync(path.join(dir, sub));
    copyFileSync(image, path.join(dir, sub, 'face.png'));
  }
  const out = path.join(dir, 'out');
  mkdirSync(out);
  const model = new PCNN({ width: 1, inChannels: 1, numClasses: 3, inputSize: [32, 32] });
  model.eval();
  const files = [path.join(dir, 'a', 'face.png'), path.join(dir, 'b', 'face.png')];
  const results = await predictImages(model, files, ['x', 'y', 'z'], out);
  assert.equal(results.map((r) => path.basename(r.png)), ['face.prediction.png', 'face-2.prediction.png']);
  assert.ok(results.every((r) => existsSync(r.png)), 'both PNGs written');
  for (const [input, expected] of [
    [path.join(dir, 'a'), `predict: ${path.join(dir, 'a')} is a folder; give the image files in it`],
    [path.join(dir, 'missing.png'), `predict: cannot read ${path.join(dir, 'missing.png')}: ENOENT`],
  ]) {
    const message = await predictImages(model, [input], ['x', 'y', 'z'], out).then(() => '', (e: Error) => e.message);
    assert.ok(message.startsWith(expected), `${input}: got '${message}'`);
  }
  model.dispose();
});

test.run();
