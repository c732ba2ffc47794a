// The `pcnn` command line end to end, on a tiny configuration: train, eval (with robustness variants),
// predict, info, cv's argument checks, help and bad options, the optimizer's options, and --resume
// refusing another recipe field by field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { loadSafetensors } from '../src/engine/io/safetensors.js';
import { syntheticFace, encodePng } from '../src/fer/data/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-cli-'));
const tinyData = ['--synthetic-count', '28', '--batch', '7'];
const tiny = ['--width', '1', '--input-size', '32', ...tinyData];

function pcnn(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('help lists the commands; each command has --help', () => {
  const r = pcnn('--help');
  assert.is(r.code, 0);
  for (const c of ['train', 'eval', 'predict', 'info', 'cv']) assert.match(r.out, new RegExp(`\\n  ${c} `));
  const h = pcnn('train', '--help');
  assert.is(h.code, 0);
  assert.match(h.out, /--input-size <int>/);
  assert.match(h.out, /--resume/);
  assert.match(h.out, /--momentum <number> +SGD momentum \(default: 0\.9\)/);
  assert.match(h.out, /--weight-decay <number> +SGD weight decay .*\(default: 0\.0001\)/);
});

test('bad options are one-line errors naming the option', () => {
  assert.is(pcnn('train', '--bogus').err, 'pcnn train: unknown option --bogus (see pcnn train --help)\n', 'one line, the command named once');
  assert.match(pcnn('train', '--width', 'wide').err, /--width expects a positive integer, got 'wide'/);
  assert.match(pcnn('eval', ...tiny).err, /a --checkpoint is required/);
  assert.is(pcnn('train', '--bogus').code, 1);
  assert.is(pcnn('frobnicate').code, 2);
  assert.match(pcnn('train', '--constructor', '1').err, /pcnn train: unknown option --constructor/, 'an inherited property is no option');
  assert.is(pcnn('constructor').code, 2, 'nor a command');
});

test('train --momentum/--weight-decay reach the optimizer; --resume refuses another recipe, naming each field, and other data', async () => {
  const out = path.join(dir, 'momentum');
  const t = pcnn('train', ...tiny, '--epochs', '1', '--momentum', '0.5', '--weight-decay', '0', '--out', out);
  assert.is(t.code, 0, t.err);
  const { metadata } = await loadSafetensors(path.join(out, 'last.safetensors'));
  const group = JSON.parse(metadata.optimizer).paramGroups[0];
  assert.equal([group.momentum, group.weightDecay], [0.5, 0]);
  const recipe = JSON.parse(metadata.pcnn).recipe;
  assert.equal([recipe.momentum, recipe.weightDecay], [0.5, 0]);

  const otherLr = pcnn('train', ...tiny, '--epochs', '1', '--momentum', '0.5', '--weight-decay', '0', '--out', out, '--resume', '--lr', '0.5');
  assert.is(otherLr.code, 1);
  assert.match(otherLr.err, /pcnn train: --resume: the recipe differs from the saved run's \(.*last\.safetensors\): lr 0\.5 \(saved 0\.01\); use another --out/);
  const defaults = pcnn('train', ...tiny, '--epochs', '1', '--width', '2', '--out', out, '--resume');
  assert.is(defaults.code, 1);
  assert.match(defaults.err, /: model\.config\.width 2 \(saved 1\), momentum 0\.9 \(saved 0\.5\), weightDecay 0\.0001 \(saved 0\);/);
  const moreImages = ['--width', '1', '--input-size', '32', '--synthetic-count', '35', '--batch', '7'];
  const otherData = pcnn('train', ...moreImages, '--epochs', '1', '--momentum', '0.5', '--weight-decay', '0', '--out', out, '--resume');
  assert.is(otherData.code, 1);
  assert.match(
    otherData.err,
    /--resume: .*last\.safetensors was trained on synthetic, \d+ training and \d+ test images; this run has synthetic, \d+ training and \d+ test images \(another --data, --fold or --last-frame\?\); use another --out/,
  );
});

test('train writes checkpoints, log and curves; eval and predict use them', () => {
  const out = path.join(dir, 'run');
  const t = pcnn('train', ...tiny, '--epochs', '2', '--out', out);
  assert.is(t.code, 0, t.err);
  assert.match(t.out, /done in \d+ s: test accuracy [\d.]+%/);
  for (const f of ['last.safetensors', 'best.safetensors', 'log.jsonl', 'loss.png', 'accuracy.png']) {
    assert.ok(existsSync(path.join(out, f)), f);
  }
  const e = pcnn('eval', ...tinyData, '--checkpoint', path.join(out, 'last.safetensors'), '--robustness', '--out', out);
  assert.is(e.code, 0, e.err);
  assert.match(e.out, /accuracy [\d.]+% on 7 images/);
  assert.match(e.out, /occluded mouth\s+[\d.]+%/);
  assert.match(e.out, /rotated 45\s+[\d.]+%/);
  assert.ok(existsSync(path.join(out, 'confusion.png')));

  const image = path.join(dir, 'face.png');
  writeFileSync(image, encodePng(syntheticFace(1, 3, 64), 1, 64, 64));
  const p = pcnn('predict', '--checkpoint', path.join(out, 'best.safetensors'), '--out', dir, image);
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /face\.png: \w+ \([\d.]+%\)/);
  assert.ok(existsSync(path.join(dir, 'face.prediction.png')));
  const missing = pcnn('predict', '--checkpoint', path.join(out, 'best.safetensors'), path.join(dir, 'nope.png'));
  assert.is(missing.code, 1);
  assert.match(missing.err, /nope\.png/);
});

test('info reports parameters and MACs, the paper configuration included', () => {
  const r = pcnn('info', '--width', '16', '--input-size', '48');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /48x48x1, width 16, 7 classes: 1,595,120 parameters, 14\.0 MMAC/);
  assert.match(r.out, /224x224x3, width 64, 7 classes: 25,906,064 parameters, 3681\.3 MMAC/);
});

test('cv checks its data and folds before training', () => {
  const r = pcnn('cv', '--data', path.join(dir, 'missing'), '--folds', '10');
  assert.is(r.code, 1);
  assert.match(r.err, /missing/);
});

test('train --average-from --per-path-bn saves a final model that eval reads back, its layer4 statistics included', () => {
  const out = path.join(dir, 'averaged');
  const t = pcnn('train', ...tiny, '--epochs', '2', '--average-from', '1', '--per-path-bn', '--out', out);
  assert.is(t.code, 0, t.err);
  const reported = /final model \(weights averaged over epochs 1 to 2, .*per input\)\): test accuracy ([\d.]+%)/.exec(t.out);
  assert.ok(reported, t.out);
  const e = pcnn('eval', ...tinyData, '--checkpoint', path.join(out, 'final.safetensors'), '--out', out);
  assert.is(e.code, 0, e.err);
  assert.match(e.out, new RegExp(`accuracy ${reported![1].replace('.', '\\.')} on 7 images`));
});

test('cv: per-fold results and cv.json; --resume reuses finished folds and refuses another recipe', () => {
  const root = path.join(dir, 'ckplus');
  const classes = ['anger', 'contempt', 'disgust', 'fear', 'happy', 'sadness', 'surprise'];
  const rows = ['path,label,subject'];
  for (const [label, name] of classes.entries()) {
    mkdirSync(path.join(root, name), { recursive: true });
    for (const subject of ['S010', 'S011', 'S012', 'S013']) {
      const file = `${name}/${subject}_${label}.png`;
      writeFileSync(path.join(root, file), encodePng(syntheticFace(Number(subject.slice(1)), label, 32, 1, label), 1, 32, 32));
      rows.push(`${file},${name},${subject}`);
    }
  }
  writeFileSync(path.join(root, 'index.csv'), rows.join('\n') + '\n');
  const out = path.join(dir, 'cv');
  const args = ['cv', '--data', root, '--folds', '2', '--width', '1', '--input-size', '32', '--batch', '7', '--epochs', '1', '--average-from', '1', '--per-path-bn', '--out', out];
  const first = pcnn(...args);
  assert.is(first.code, 0, first.err);
  assert.match(first.out, /fold 1: [\d.]+% .*final model [\d.]+%, sense heads [\d.]+%, ensemble [\d.]+%, composited [\d.]+%; 14 test images/);
  assert.match(first.out, /2-fold subject-wise cross-validation, classifier on the test faces composited onto backgrounds, final model: [\d.]+% ± [\d.]+ \(mean ± std over folds\)/);
  assert.match(first.out, /2-fold subject-wise cross-validation, mirrored ensemble, final model: [\d.]+% ± [\d.]+/);
  assert.match(first.out, /2-fold subject-wise cross-validation, classifier on the test faces composited onto backgrounds, last epoch: [\d.]+% ± [\d.]+/);
  assert.ok(existsSync(path.join(out, 'fold1', 'result.json')) && existsSync(path.join(out, 'cv.json')));
  const again = pcnn(...args, '--resume');
  assert.is(again.code, 0, again.err);
  assert.equal(again.out, first.out, 'the same report, from the saved folds');
  assert.not.match(again.err, /epoch 1:/, 'no fold trained again');
  // Folds saved before PCNN's --registration option have no config.registration: the paper's.
  for (const fold of ['fold0', 'fold1']) {
    const file = path.join(out, fold, 'result.json');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(saved.recipe.model.config.registration, 'stn');
    delete saved.recipe.model.config.registration;
    writeFileSync(file, JSON.stringify(saved));
  }
  const older = pcnn(...args, '--resume');
  assert.is(older.code, 0, older.err);
  assert.equal(older.out, first.out, 'folds saved before the option are reused');
  // A fold saved before the final model's composited rule: reused, and the report says over how many folds.
  const file0 = path.join(out, 'fold0', 'result.json');
  const saved0 = JSON.parse(readFileSync(file0, 'utf8'));
  delete saved0.accuracies.finalComposited;
  writeFileSync(file0, JSON.stringify(saved0));
  const beforeRule = pcnn(...args, '--resume');
  assert.is(beforeRule.code, 0, beforeRule.err);
  assert.match(beforeRule.out, /composited onto backgrounds, final model: [\d.]+% \(the 1 of 2 folds whose result has it\)/);
  const other = pcnn(...args, '--resume', '--lr', '0.02');
  assert.is(other.code, 1);
  assert.match(other.err, /--resume: the recipe differs from the saved run's \(.*fold0\/result\.json\): lr 0\.02 \(saved 0\.01\)/);
  // train on one fold, resumed on the other: as many images (two subjects each), other images.
  const trainOut = path.join(dir, 'fold-train');
  const trainArgs = ['train', '--data', root, '--folds', '2', '--width', '1', '--input-size', '32', '--batch', '7', '--epochs', '1', '--out', trainOut];
  const trained = pcnn(...trainArgs, '--fold', '0');
  assert.is(trained.code, 0, trained.err);
  const otherFold = pcnn(...trainArgs, '--fold', '1', '--resume');
  assert.is(otherFold.code, 1);
  assert.match(otherFold.err, /--resume: .*last\.safetensors was trained on ckplus fold 0\/2, 14 training and 14 test images; this run has ckplus fold 1\/2, 14 training and 14 test images/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
