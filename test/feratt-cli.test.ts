// `pcnn --model feratt` end to end on a tiny configuration: train on composited synthetic faces, a
// checkpoint that names its model (eval and predict need no --model, and refuse another), FERAtt's
// predict picture, info with the official configuration's counts, and the options FERAtt refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { loadSafetensors } from '../src/engine/io/safetensors.js';
import { syntheticFace, encodePng } from '../src/fer/data/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-feratt-cli-'));
const run = path.join(dir, 'run');

function pcnn(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('train --model feratt: composited synthetic faces, the GMM rule reported, a checkpoint naming its model; --recalibrate-bn', async () => {
  const r = pcnn('train', '--model', 'feratt', '--width', '2', '--synthetic-count', '14', '--batch', '7', '--epochs', '1', '--recalibrate-bn', '--out', run);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /training FERAtt \(width 2, 128x128x3\)/);
  assert.match(r.err, /epoch 1: loss [\d.]+, train [\d.]+%, test [\d.]+% \(GMM nearest class mean [\d.]+%\)/);
  const { metadata } = await loadSafetensors(path.join(run, 'last.safetensors'));
  const meta = JSON.parse(metadata.pcnn);
  assert.is(meta.model, 'feratt');
  assert.equal(meta.config, { inChannels: 3, width: 2, numClasses: 7, inputSize: [128, 128], dim: 64 });
  assert.is(meta.recipe.lr, 1e-4, "FERAtt's official Adam learning rate is its default");
  assert.is(meta.recipe.weightDecay, 0, "and the official Adam's weight decay");
  const history = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.ok(history[0].auxiliaryAccuracy >= 0 && history[0].auxiliaryAccuracy <= 1);
  const reported = /final model \(last weights, BatchNorm statistics re-estimated on the training data without augmentation\): test accuracy ([\d.]+%), GMM nearest class mean [\d.]+%/.exec(r.out);
  assert.ok(reported, r.out);
  const e = pcnn('eval', '--synthetic-count', '14', '--batch', '7', '--checkpoint', path.join(run, 'final.safetensors'), '--out', path.join(dir, 'final-eval'));
  assert.is(e.code, 0, e.err);
  assert.match(e.out, new RegExp(`accuracy ${reported![1].replace('.', '\\.')}`), 'eval reads the final model back: the same test accuracy');
  assert.match(pcnn('train', '--model', 'feratt', '--recalibrate-bn', '--average-from', '1', '--out', path.join(dir, 'x')).err, /--recalibrate-bn: --average-from re-estimates the BatchNorm statistics already; leave --recalibrate-bn out/);
});

test('eval and predict read the model from the checkpoint and refuse another --model', () => {
  const checkpoint = path.join(run, 'last.safetensors');
  const e = pcnn('eval', '--checkpoint', checkpoint, '--synthetic-count', '14', '--composited', '--out', path.join(dir, 'eval'));
  assert.is(e.code, 0, e.err);
  assert.match(e.out, /GMM nearest class mean alone: [\d.]+%/);
  assert.match(e.out, /\ncomposited +[\d.]+%/);
  const wrong = pcnn('eval', '--checkpoint', checkpoint, '--model', 'pcnn', '--out', path.join(dir, 'eval'));
  assert.is(wrong.code, 1);
  assert.match(wrong.err, /--model pcnn: .* holds a FERAtt model \(--model feratt\); leave --model out/);
  const face = path.join(dir, 'face.png');
  writeFileSync(face, encodePng(syntheticFace(0, 3, 128, 1), 1, 128, 128));
  const p = pcnn('predict', '--checkpoint', checkpoint, '--out', path.join(dir, 'predict'), face);
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /face\.png: \S+ \([\d.]+%\)/);
  assert.ok(existsSync(path.join(dir, 'predict', 'face.prediction.png')));
});

test('info --model feratt counts the official configuration as PyTorch does; FERAtt refuses what it cannot use', () => {
  const i = pcnn('info', '--model', 'feratt', '--width', '2');
  assert.is(i.code, 0, i.err);
  assert.match(i.out, /FERAtt 128x128x3, width 64, dim 64, 8 classes: 46,417,652 parameters \(513,000 of them in the unused encoder\.fc\)/);
  assert.match(pcnn('info', '--model', 'feratt', '--input-size', '48').err, /FERAtt: inputSize \[48,48\] is not supported/);
  assert.match(pcnn('train', '--model', 'vgg').err, /unknown model 'vgg'; expected one of pcnn, feratt/);
  assert.match(pcnn('train', '--model', 'feratt', '--per-path-bn', '--out', path.join(dir, 'x')).err, /--per-path-bn is for --model pcnn \(it keeps the statistics of PCNN's two layer4 passes apart\); not for --model feratt/);
  assert.match(pcnn('train', '--model', 'feratt', '--momentum', '0.5', '--beta', '1', '--out', path.join(dir, 'x')).err, /--momentum, --beta not used by --model feratt \(its loss and optimizer do not read them\)/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
