// PCNN's registration by cross-attention (src/pcnn/registration.ts, ours): the block against a float64
// reference written from its definition (tokens, the summed 2-D position encoding on queries and keys,
// PyTorch's multi-head attention with in_proj / out_proj), its gradients by finite differences, the
// model's state-dict names and multiply-accumulates, a training step reaching the block's parameters, a
// checkpoint round trip, and the CLI (train, predict's attention picture, refusals).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertClose, gradCheck, randomData, repoRoot, run } from './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { CrossAttentionRegistration, REGISTRATION_HEADS } from '../src/pcnn/registration.js';
import { pcnnMacs } from '../src/pcnn/info.js';
import { pcnnLoss } from '../src/pcnn/loss.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { manualSeed } from '../src/engine/random.js';
import { loadCheckpoint, saveCheckpoint } from '../src/fer/checkpoint.js';
import { encodePng, syntheticFace } from '../src/fer/data/index.js';
import { PNG } from 'pngjs';

const [C, GH, GW, N] = [8, 3, 2, 2];
const L = GH * GW;

interface BlockParameters {
  inProjWeight: Float64Array; // [3C, C]
  inProjBias: Float64Array; // [3C]
  outWeight: Float64Array; // [C, C]
  outBias: Float64Array; // [C]
  rowEmbed: Float64Array; // [GH, C]
  colEmbed: Float64Array; // [GW, C]
}

/** x11 [N, C, GH, GW] from x1 and x10 [N, C, GH, GW], and the head-averaged weights [N, L, L], in
 *  float64 from the block's definition. */
function registrationReference(x1: Float64Array, x10: Float64Array, p: BlockParameters): { x11: Float64Array; weights: Float64Array } {
  const d = C / REGISTRATION_HEADS;
  const token = (map: Float64Array, n: number, l: number, c: number) => map[((n * C + c) * GH + Math.floor(l / GW)) * GW + (l % GW)];
  const pos = (l: number, c: number) => p.rowEmbed[Math.floor(l / GW) * C + c] + p.colEmbed[(l % GW) * C + c];
  const project = (input: (c: number) => number, block: number, f: number) => {
    let t = p.inProjBias[block * C + f];
    for (let c = 0; c < C; c++) t += p.inProjWeight[(block * C + f) * C + c] * input(c);
    return t;
  };
  const out = new Float64Array(N * C * L);
  const weights = new Float64Array(N * L * L);
  for (let n = 0; n < N; n++) {
    const q = Array.from({ length: L }, (_, l) => Array.from({ length: C }, (_, f) => project((c) => token(x1, n, l, c) + pos(l, c), 0, f)));
    const k = Array.from({ length: L }, (_, s) => Array.from({ length: C }, (_, f) => project((c) => token(x10, n, s, c) + pos(s, c), 1, f)));
    const v = Array.from({ length: L }, (_, s) => Array.from({ length: C }, (_, f) => project((c) => token(x10, n, s, c), 2, f)));
    for (let l = 0; l < L; l++) {
      const merged = new Float64Array(C);
      for (let head = 0; head < REGISTRATION_HEADS; head++) {
        const scores = k.map((row) => {
          let t = 0;
          for (let e = 0; e < d; e++) t += q[l][head * d + e] * row[head * d + e];
          return t / Math.sqrt(d);
        });
        const max = Math.max(...scores);
        const total = scores.reduce((a, z) => a + Math.exp(z - max), 0);
        scores.forEach((z, s) => {
          const probability = Math.exp(z - max) / total;
          weights[(n * L + l) * L + s] += probability / REGISTRATION_HEADS;
          for (let e = 0; e < d; e++) merged[head * d + e] += probability * v[s][head * d + e];
        });
      }
      for (let f = 0; f < C; f++) {
        let t = p.outBias[f];
        for (let c = 0; c < C; c++) t += p.outWeight[f * C + c] * merged[c];
        out[((n * C + f) * GH + Math.floor(l / GW)) * GW + (l % GW)] = t;
      }
    }
  }
  return { x11: out, weights };
}

function blockParameters(seed: number): BlockParameters {
  return {
    inProjWeight: randomData(3 * C * C, seed),
    inProjBias: randomData(3 * C, seed + 1),
    outWeight: randomData(C * C, seed + 2),
    outBias: randomData(C, seed + 3),
    rowEmbed: randomData(GH * C, seed + 4),
    colEmbed: randomData(GW * C, seed + 5),
  };
}

/** The block with parameters `p` (host data) loaded by their state-dict names. */
function block(p: BlockParameters): CrossAttentionRegistration {
  const registration = new CrossAttentionRegistration(C, [GH, GW]);
  registration.loadStateDict({
    'attention.in_proj_weight': { shape: [3 * C, C], data: p.inProjWeight },
    'attention.in_proj_bias': { shape: [3 * C], data: p.inProjBias },
    'attention.out_proj.weight': { shape: [C, C], data: p.outWeight },
    'attention.out_proj.bias': { shape: [C], data: p.outBias },
    row_embed: { shape: [GH, C], data: p.rowEmbed },
    col_embed: { shape: [GW, C], data: p.colEmbed },
  });
  return registration;
}

test('registration block: x11 and the head-averaged weights against the float64 reference', async () => {
  const p = blockParameters(3);
  const registration = block(p);
  const [x1, x10] = [randomData(N * C * L, 10), randomData(N * C * L, 11)];
  const map = (data: Float64Array) => tensor(Float32Array.from(data), [N, C, GH, GW]);
  const expected = registrationReference(x1, x10, p);
  assertClose(await run(() => registration.forward(map(x1), map(x10)).x11), expected.x11, 'x11', { atol: 1e-5, rtol: 1e-4 });
  const weights = await run(() => registration.forward(map(x1), map(x10), { needWeights: true }).weights!);
  assertClose(weights, expected.weights, 'head-averaged weights', { atol: 1e-6, rtol: 1e-4 });
  tidy(() => assert.throws(() => registration.forward(map(x1), tensor(new Float32Array(N * C * 4), [N, C, 2, 2])), /PCNN registration: x1 and x10 must both be \[N, 8, 3, 2\], got x1 \[2,8,3,2\] and x10 \[2,8,2,2\]/));
  registration.dispose();
});

test('registration block: gradients of x1, x10, row_embed and col_embed by finite differences', async () => {
  const p = blockParameters(21);
  const registration = block(p);
  await gradCheck(
    'cross-attention registration',
    [
      { shape: [N, C, GH, GW], data: randomData(N * C * L, 30) },
      { shape: [N, C, GH, GW], data: randomData(N * C * L, 31) },
      { shape: [GH, C], data: p.rowEmbed },
      { shape: [GW, C], data: p.colEmbed },
    ],
    (x1, x10, rowEmbed, colEmbed) => {
      const swapped = Object.assign(Object.create(CrossAttentionRegistration.prototype) as CrossAttentionRegistration, registration, { rowEmbed, colEmbed });
      return swapped.forward(x1, x10).x11;
    },
    (x1, x10, rowEmbed, colEmbed) => registrationReference(x1, x10, { ...p, rowEmbed, colEmbed }).x11,
  );
  registration.dispose();
});

test("PCNN({ registration: 'attention' }): names, no fc_loc, MACs, and a training step that reaches the block", async () => {
  manualSeed(1);
  const model = new PCNN({ width: 2, inputSize: [48, 48], registration: 'attention' });
  const names = Object.keys(model.stateDict());
  assert.ok(!names.some((k) => k.startsWith('fc_loc.')), 'no fc_loc');
  for (const k of ['attention_registration.attention.in_proj_weight', 'attention_registration.attention.in_proj_bias', 'attention_registration.attention.out_proj.weight', 'attention_registration.attention.out_proj.bias', 'attention_registration.row_embed', 'attention_registration.col_embed']) {
    assert.ok(names.includes(k), k);
  }
  const stn = new PCNN({ width: 2, inputSize: [48, 48] });
  const others = (m: PCNN) => Object.keys(m.stateDict()).filter((k) => !k.startsWith('fc_loc.') && !k.startsWith('attention_registration.'));
  assert.equal(others(model), others(stn), 'every other name as the paper model');
  // 48x48, width 2: x1 and x10 are 3x3 of 8 channels. The STN's extra layer4 pass (8 -> 16 channels, 2x2
  // out: 4·16·72 + 3·4·16·144 + 4·16·8 = 32,768) and fc_loc (64·32 + 32·6 = 2,240) against the attention's
  // projections 4·9·8² = 2,304 and products 2·9²·8 = 1,296.
  assert.is(pcnnMacs(stn.config) - pcnnMacs(model.config), 32_768 + 2_240 - 2_304 - 1_296);
  const x = tensor(Float32Array.from({ length: 4 * 48 * 48 }, (_, i) => Math.sin(0.37 * i)), [4, 1, 48, 48]);
  tidy(() => {
    const { out, heads } = model.forward(x);
    pcnnLoss(out, heads, Int32Array.from([0, 1, 2, 3])).backward();
  });
  for (const t of [model.crossAttention!.rowEmbed, model.crossAttention!.colEmbed, model.crossAttention!.attention.inProjWeight!]) {
    const grad = await t.grad!.toArray();
    assert.ok(grad.some((g) => g !== 0), 'a non-zero gradient');
  }
  const internals = tidy(() => {
    const d = model.forwardDetailed(x, { attentionWeights: true });
    return { theta: d.theta, weights: d.registrationWeights!.shape };
  });
  assert.is(internals.theta, null);
  assert.equal(internals.weights, [4, 9, 9]);
  assert.throws(() => model.setRegistrationStatistics([]), /registration 'attention' has no layer4 pass on x10/);
  assert.throws(() => new PCNN({ width: 2, registration: 'warp' as never }), /PCNN: registration must be one of stn, attention, got warp/);
  assert.throws(() => model.loadStateDict(stn.stateDict()), /PCNN\.loadStateDict: holds a PCNN with registration 'stn' \(fc_loc\.\*\), this model has registration 'attention'/);
  assert.throws(() => stn.loadStateDict(model.stateDict()), /holds a PCNN with registration 'attention' \(attention_registration\.\*\), this model has registration 'stn'/);
  x.dispose();
  model.dispose();
  stn.dispose();
});

test('a checkpoint keeps the registration; one written before the option loads as the paper model', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-registration-'));
  try {
    const model = new PCNN({ width: 1, inputSize: [32, 32], registration: 'attention' });
    const file = path.join(dir, 'attention.safetensors');
    await saveCheckpoint(file, { model, meta: { config: model.config, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } });
    const loaded = await loadCheckpoint<{ config: { registration: string } }>(file);
    assert.is(loaded.meta!.config.registration, 'attention');
    const old = new PCNN({ width: 1, inputSize: [32, 32] });
    const { registration: _, ...before } = old.config;
    const oldFile = path.join(dir, 'old.safetensors');
    await saveCheckpoint(oldFile, { model: old, meta: { config: before, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } });
    assert.is((await loadCheckpoint<{ config: { registration: string } }>(oldFile)).meta!.config.registration, 'stn');
    const bad = path.join(dir, 'bad.safetensors');
    let error = '';
    await saveCheckpoint(bad, { model: old, meta: { config: { ...before, registration: 'warp' }, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } }).catch((e: Error) => (error = e.message));
    assert.match(error, /config\.registration must be one of stn, attention \(absent: stn\), got "warp"/);
    model.dispose();
    old.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: train --registration attention, info names it, predict draws its attention; refusals', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-registration-cli-'));
  try {
    const out = path.join(dir, 'run');
    const tiny = ['--width', '1', '--input-size', '32', '--synthetic-count', '28', '--batch', '7', '--epochs', '1'];
    const train = cli('train', ...tiny, '--registration', 'attention', '--out', out);
    assert.is(train.code, 0, train.err);
    const info = cli('info', '--width', '1', '--input-size', '32', '--registration', 'attention');
    assert.match(info.out, /registration by cross-attention \(ours\)/);
    const image = path.join(dir, 'face.png');
    writeFileSync(image, encodePng(syntheticFace(3, 4, 32), 1, 32, 32));
    const predict = cli('predict', '--checkpoint', path.join(out, 'last.safetensors'), '--out', dir, image);
    assert.is(predict.code, 0, predict.err);
    const picture = PNG.sync.read(readFileSync(path.join(dir, 'face.prediction.png')));
    const plain = cli('train', ...tiny, '--out', path.join(dir, 'stn'));
    assert.is(plain.code, 0, plain.err);
    const stnPredict = cli('predict', '--checkpoint', path.join(dir, 'stn', 'last.safetensors'), '--out', path.join(dir, 'stn'), image);
    assert.is(stnPredict.code, 0, stnPredict.err);
    const across = cli('train', ...tiny, '--registration', 'attention', '--init-from', path.join(dir, 'stn', 'last.safetensors'), '--out', path.join(dir, 'across'));
    assert.match(across.err, /--init-from .*last\.safetensors: holds a PCNN with registration 'stn' \(fc_loc\.\*\), this model has registration 'attention'; build it with --registration stn/);
    const stnPicture = PNG.sync.read(readFileSync(path.join(dir, 'stn', 'face.prediction.png')));
    assert.ok(picture.height > stnPicture.height, `the attention row makes the picture taller (${picture.height} vs ${stnPicture.height} px)`);
    assert.match(cli('train', ...tiny, '--registration', 'warp', '--out', out).err, /--registration must be one of stn, attention, got 'warp'/);
    assert.match(cli('train', ...tiny, '--model', 'arpgnet', '--registration', 'attention', '--out', out).err, /--registration: for --model pcnn .*not --model arpgnet/);
    assert.match(cli('train', ...tiny, '--registration', 'attention', '--per-path-bn', '--out', out).err, /--per-path-bn keeps layer4's statistics apart .* --registration attention does not make/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
