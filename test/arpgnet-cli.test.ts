// `pcnn --model arpgnet` end to end on a tiny configuration: train on the synthetic clips (the default
// data), a checkpoint naming its model and its clip configuration, eval, predict on a clip folder and on
// a still image (the picture with both graphs), info, and the clip options another model refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { loadSafetensors } from '../src/engine/io/safetensors.js';
import { encodePng } from '../src/fer/data/index.js';
import { syntheticFrame } from '../src/fer/data/synthetic.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-arpgnet-cli-'));
const run = path.join(dir, 'run');

function pcnn(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('train --model arpgnet: synthetic clips by default, the last-step rule reported, a checkpoint naming its model', async () => {
  const r = pcnn('train', '--model', 'arpgnet', '--width', '2', '--grid', '3', '--synthetic-count', '14', '--batch', '7', '--epochs', '1', '--out', run);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /training ARPGNet \(width 2, 48x48x1\) on synthetic clips of 3 frame\(s\)/);
  assert.match(r.err, /epoch 1: loss [\d.]+, train [\d.]+%, test [\d.]+% \(last step [\d.]+%\)/);
  const meta = JSON.parse((await loadSafetensors(path.join(run, 'last.safetensors'))).metadata.pcnn);
  assert.is(meta.model, 'arpgnet');
  assert.equal(
    { frames: meta.config.frames, grid: meta.config.grid, dim: meta.config.dim, fusion: meta.config.fusion, branches: meta.config.branches },
    { frames: 3, grid: 3, dim: 16, fusion: 'gat', branches: 'both' },
  );
  assert.is(meta.recipe.lr, 1e-3, "ARPGNet's Adam learning rate is its default");
});

test('eval and predict read the clip model from the checkpoint; predict draws a clip folder and a still image', () => {
  const checkpoint = path.join(run, 'last.safetensors');
  const e = pcnn('eval', '--checkpoint', checkpoint, '--synthetic-count', '14', '--composited', '--out', path.join(dir, 'eval'));
  assert.is(e.code, 0, e.err);
  assert.match(e.out, /last step alone: [\d.]+%/);
  assert.match(e.out, /composited +[\d.]+%/, 'every frame of a clip composited onto one background');
  const clip = path.join(dir, 'clip');
  mkdirSync(clip);
  for (let t = 0; t < 4; t++) writeFileSync(path.join(clip, `frame${t + 1}.png`), encodePng(syntheticFrame(0, 3, t / 3, t), 1, 48, 48));
  const still = path.join(dir, 'still.png');
  writeFileSync(still, encodePng(syntheticFrame(0, 4, 1, 0), 1, 48, 48));
  const p = pcnn('predict', '--checkpoint', checkpoint, '--out', path.join(dir, 'predict'), clip, still);
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /clip: \S+ \([\d.]+%\)/);
  assert.ok(existsSync(path.join(dir, 'predict', 'clip.prediction.png')));
  assert.ok(existsSync(path.join(dir, 'predict', 'still.prediction.png')));
});

test('info --model arpgnet; clip options are refused for other models and checked for ARPGNet', () => {
  const i = pcnn('info', '--model', 'arpgnet', '--width', '2', '--fusion', 'sdpa', '--branches', 'appearance');
  assert.is(i.code, 0, i.err);
  assert.match(i.out, /ARPGNet \(our reconstruction\) 3x48x48x1 clips, width 2, .*sdpa fusion.*branches appearance/);
  assert.match(pcnn('train', '--model', 'pcnn', '--grid', '7', '--out', path.join(dir, 'x')).err, /--grid: for --model arpgnet \(a model of clips\), not --model pcnn/);
  assert.match(pcnn('info', '--model', 'arpgnet', '--neighbours', '6').err, /neighbours must be 4 or 8, got 6/);
  assert.match(pcnn('info', '--model', 'arpgnet', '--cross', 'all').err, /cross must be one of same, neighbours, none/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
