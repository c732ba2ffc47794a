// Bad input to `pcnn` gets an error that says what and where (issue 18): the option or file, the value
// and what was expected, before the work; never a raw Node error (EEXIST, ENOENT, a typed array length).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcnn, refusal } from './helpers/cli.js';
import { dataOptions, parseArgs } from '../src/fer/args.js';
import { syntheticFace, encodePng } from '../src/fer/data/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-errors-'));
const tiny = ['--width', '1', '--input-size', '32'];

test('--seed takes integers in 0..2^32-1, said at parse time', () => {
  for (const value of ['1e30', '-1', '4294967296']) {
    assert.throws(() => parseArgs(['--seed', value], dataOptions, 'train'), new RegExp(`^--seed expects an integer in 0\\.\\.4294967295, got '${value}'$`));
  }
  assert.is(parseArgs(['--seed', '4294967295'], dataOptions, 'train').options.seed, 4294967295);
});

test('pcnn train: a size past the adapter, a file as --out, initial weights given twice are refused naming the options', () => {
  assert.match(refusal('train', '--input-size', '1000000', '--width', '1'),
    /--input-size 1000000 is too large: a batch of 64 image\(s\) of 1000000x1000000x1 floats is 256000000000000 bytes, more than one storage buffer of this adapter holds \(\d+ bytes, its maxStorageBufferBindingSize\); expected at most \d+ at batch 64$/);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  assert.match(refusal('train', ...tiny, '--out', file), new RegExp(`--out ${file} is a file; expected a folder \\(or a path to create\\)$`));
  assert.match(refusal('train', ...tiny, '--out', path.join(file, 'run')), new RegExp(`--out ${file}/run is under a file \\(${file}\\); expected a folder`));
  assert.match(refusal('train', ...tiny, '--checkpoint', 'a.safetensors', '--init-from', 'b.pth', '--out', path.join(dir, 'two')),
    /--checkpoint and --init-from given together: each sets the initial weights, the later overwriting the earlier; give one of them$/);
});

test('pcnn train and eval: an empty split of a FER2013 .csv is refused naming the file and the split', () => {
  const pixels = Array(48 * 48).fill('128').join(' ');
  const csv = path.join(dir, 'only-training.csv');
  writeFileSync(csv, 'emotion,pixels,Usage\n' + [0, 1, 2, 3].map((e) => `${e},${pixels},Training\n`).join(''));
  const out = path.join(dir, 'csv-run');
  assert.match(refusal('train', ...tiny, '--data', csv, '--out', out),
    new RegExp(`the test split of only-training\\.csv has no images: ${csv} has no row with Usage PublicTest or PrivateTest$`));
  assert.not.ok(existsSync(path.join(out, 'last.safetensors')));
});

test('pcnn cv: needs a CK+48-style --data folder; a broken result.json on --resume is named, with what is wrong', () => {
  assert.match(refusal('cv', ...tiny), /--data is required: a CK\+48-style folder: class folders and an index\.csv with columns path, label, subject$/);
  assert.match(refusal('cv', ...tiny, '--data', dir), new RegExp(`--data ${dir} has no index\\.csv; expected a CK\\+48-style folder`));
  const root = path.join(dir, 'ckplus');
  const rows = ['path,label,subject'];
  for (const [label, name] of ['anger', 'contempt', 'disgust', 'fear', 'happy', 'sadness', 'surprise'].entries()) {
    mkdirSync(path.join(root, name), { recursive: true });
    for (const subject of ['S010', 'S011']) {
      const file = `${name}/${subject}.png`;
      writeFileSync(path.join(root, file), encodePng(syntheticFace(Number(subject.slice(1)), label, 32, 1, label), 1, 32, 32));
      rows.push(`${file},${name},${subject}`);
    }
  }
  writeFileSync(path.join(root, 'index.csv'), rows.join('\n') + '\n');
  const out = path.join(dir, 'cv');
  const resultFile = path.join(out, 'fold0', 'result.json');
  mkdirSync(path.dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, '{"fold": 0, "testImag');
  assert.match(refusal('cv', ...tiny, '--data', root, '--folds', '2', '--out', out, '--resume'),
    new RegExp(`--resume: ${resultFile} is not valid JSON \\(.*\\); expected the result of fold 0 \\(remove the file to train the fold again\\)$`));
});

test('pcnn eval and predict: a new --out is created before the work', () => {
  const run = path.join(dir, 'run');
  const t = pcnn('train', ...tiny, '--synthetic-count', '8', '--batch', '4', '--epochs', '1', '--out', run);
  assert.is(t.code, 0, t.err);
  const checkpoint = path.join(run, 'best.safetensors');
  const evalOut = path.join(dir, 'new', 'eval');
  const e = pcnn('eval', '--synthetic-count', '8', '--checkpoint', checkpoint, '--out', evalOut);
  assert.is(e.code, 0, e.err);
  assert.ok(existsSync(path.join(evalOut, 'eval.json')));
  const image = path.join(dir, 'face.png');
  writeFileSync(image, encodePng(syntheticFace(1, 0, 32, 1, 0), 1, 32, 32));
  const predictOut = path.join(dir, 'new', 'predict');
  const p = pcnn('predict', '--checkpoint', checkpoint, '--out', predictOut, image);
  assert.is(p.code, 0, p.err);
  assert.ok(existsSync(path.join(predictOut, 'face.prediction.png')));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
