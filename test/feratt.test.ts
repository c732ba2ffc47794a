// FERAtt (GMM variant) against PyTorch 1.13 running the official structure (scripts/fixtures/feratt.py,
// width 4, 128x128x3, 3 images, 3 classes with one absent, dim 8): the state dict loads strict with the
// encoder's aliased names; eval and train forwards, each loss term, the GMM accuracy, every parameter's
// gradient, two AMSGrad Adam steps and the running statistics agree; the parameter count of the official
// configuration is PyTorch's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { numbers, readFixture } from './helpers/fixture.js';
import { assertClose, assertCloseInNorm } from './helpers/index.js';
import fixture from './fixtures/feratt.json';
import { FERAtt, canonicalNames } from '../src/feratt/model.js';
import { attentionLoss, dgmmLoss, ferattLoss, gmmAccuracy } from '../src/feratt/loss.js';
import { ferattSize } from '../src/feratt/info.js';
import type { StateDict } from '../src/nn/module.js';
import { Adam } from '../src/optim/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy, keep } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { avgPool2d, adaptiveAvgPool2d } from '../src/kernels/pool/index.js';
import { flatten } from '../src/kernels/shape/index.js';

const { width, inputSize, classes, dim, lr } = fixture.config;
const batch = fixture.y.length;
const labels = Int32Array.from(fixture.y);
const { get, prefixed } = readFixture('feratt.safetensors');





/** The state dict as PyTorch's state_dict() gives it: the shared encoder modules under both names. */
function officialState(): StateDict {
  const state: StateDict = {};
  for (const [name, t] of Object.entries(prefixed('state.'))) {
    const value = { shape: t.shape, data: numbers(t) };
    state[name] = value;
    for (const [alias, target] of Object.entries(fixture.aliases)) {
      if (name.startsWith(target)) state[alias + name.slice(target.length)] = { shape: t.shape, data: numbers(t).slice() };
    }
  }
  return state;
}

/** The fixture's input bytes and face masks, computed from integers as the script does. */
function images(): { x: Float32Array; clean: Float32Array } {
  const [n, c, h, w] = [batch, 3, inputSize, inputSize];
  const x = new Float32Array(n * c * h * w);
  const clean = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    const [cy, cx, ry, rx] = [60 + 3 * b, 64 - 2 * b, 44 + b, 36 + 2 * b];
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const idx = ((b * c + ch) * h + i) * w + j;
          const noise = Number((BigInt(idx + 1) * 2654435761n) % 2n ** 32n) >>> 26;
          const ramp = (i * (b + 1) + j * (2 + ch - b)) % 192;
          x[idx] = Math.fround((noise + ramp) / 255);
          const inside = (i - cy) ** 2 * rx * rx + (j - cx) ** 2 * ry * ry <= rx * rx * ry * ry;
          clean[idx] = inside ? x[idx] : 0;
        }
      }
    }
  }
  return { x, clean };
}

const { x: xData, clean: cleanData } = images();
const shape = [batch, 3, inputSize, inputSize];
const newModel = () => new FERAtt({ inChannels: 3, numClasses: classes, dim, inputSize, width, cleanProbability: 0 });

function loadedModel(): FERAtt {
  const model = newModel();
  model.loadStateDict(officialState());
  return model;
}

async function sample(t: Tensor): Promise<Float32Array> {
  const all = await t.toArray();
  return Float32Array.from({ length: Math.ceil(all.length / fixture.sample) }, (_, i) => all[i * fixture.sample]);
}

// Float32 through ~80 layers in another summation order; errors compound through the batch norms.
const tolerance = { atol: 2e-4, rtol: 2e-3 };
const gradientTolerance = { rtol: 1e-3 };

test('parameter counts: the official configuration has PyTorch\'s 46,417,652 (45,904,652 without encoder.fc)', () => {
  const official = ferattSize({ inChannels: 3, numClasses: 8, dim: 64, inputSize: 128, width: 64 });
  assert.is(official.parameters, 46_417_652);
  assert.is(official.parameters - official.unusedParameters, 45_904_652);
  assert.is(official.macs, 10_091_463_168, 'multiply-accumulates per image, as forward hooks on Conv2d and Linear count them in PyTorch');
  const small = ferattSize({ inChannels: 3, numClasses: classes, dim, inputSize, width });
  assert.is(small.parameters, fixture.parameters, 'the fixture model, as PyTorch counts it');
  const model = newModel();
  const counted = model.parameters().reduce((n, p) => n + p.size, 0);
  assert.is(counted, fixture.parameters, 'our module, shared tensors once');
  const byModule = Object.fromEntries([...model.namedChildren()].map(([name, m]) => [name, m.parameters().reduce((n, p) => n + p.size, 0)]));
  assert.equal(byModule, small.byModule);
  model.dispose();
});

test('state dict: PyTorch\'s names, both names of the shared encoder modules; loads strict, with either name or both', async () => {
  const model = newModel();
  const official = officialState();
  assert.equal(Object.keys(model.stateDict()).sort(), Object.keys(official).sort());
  const own = model.stateDict();
  assert.ok(own['attention_map.conv1.1.running_mean'] === own['attention_map.encoder.bn1.running_mean'], 'one tensor under two names');
  assert.ok(own['attention_map.conv5.2.conv2.weight'] === own['attention_map.encoder.layer4.2.conv2.weight']);
  assert.ok('attention_map.encoder.fc.weight' in own);
  model.loadStateDict(official);
  const fc = await own['attention_map.encoder.fc.weight'].toArray();
  assertClose(fc, get('state.attention_map.encoder.fc.weight'), 'encoder.fc loaded', { atol: 0, rtol: 0 });

  // One name of each shared tensor is enough.
  const encoderOnly = Object.fromEntries(Object.entries(official).filter(([k]) => !Object.keys(fixture.aliases).some((a) => k.startsWith(a))));
  const other = newModel();
  const result = other.loadStateDict(encoderOnly);
  assert.equal(result.missing, []);
  const aliasOnly = Object.fromEntries(Object.entries(official).filter(([k]) => !Object.values(fixture.aliases).some((a) => k.startsWith(a))));
  other.loadStateDict(aliasOnly);
  assertClose(await other.stateDict()['attention_map.encoder.layer2.1.conv1.weight'].toArray(), get('state.attention_map.encoder.layer2.1.conv1.weight'), 'loaded by the alias');

  // Our own stateDict() (the same tensor under both names) loads into another model.
  other.loadStateDict(model.stateDict());

  // Disagreeing copies are refused; a tensor given under none of its names is missing.
  const bad = { ...official, 'attention_map.conv3.0.bn1.bias': { ...official['attention_map.conv3.0.bn1.bias'], data: new Float32Array(8).fill(7) } };
  assert.throws(() => other.loadStateDict(bad), /'attention_map.conv3.0.bn1.bias' and 'attention_map.encoder.layer2.0.bn1.bias' name one shared tensor but differ at element 0/);
  const withoutBoth = { ...official };
  delete withoutBoth['attention_map.conv2.0.conv1.weight'];
  delete withoutBoth['attention_map.encoder.layer1.0.conv1.weight'];
  assert.throws(() => other.loadStateDict(withoutBoth), /missing: attention_map.encoder.layer1.0.conv1.weight/);
  const lenient = other.loadStateDict(withoutBoth, { strict: false });
  assert.equal(lenient.missing.sort(), ['attention_map.conv2.0.conv1.weight', 'attention_map.encoder.layer1.0.conv1.weight']);
  model.dispose();
  other.dispose();
});

test('eval mode: z and logits match PyTorch', async () => {
  const model = loadedModel();
  model.eval();
  const out = noGrad(() => tidy(() => {
    const o = model.forward(tensor(xData, shape));
    return { z: o.z, logits: o.logits };
  }));
  assertClose(await out.z.toArray(), get('eval.z'), 'eval z', tolerance);
  assertClose(await out.logits.toArray(), get('eval.logits'), 'eval logits', tolerance);
  out.z.dispose();
  out.logits.dispose();
  model.dispose();
});

test('train mode: outputs, losses, GMM accuracy, every gradient, two Adam steps and running statistics match PyTorch', async () => {
  const model = loadedModel();
  model.train();
  const optimizer = new Adam(model.parameters(), { lr, amsgrad: true });
  const named = model.namedParameters();
  const canonical = canonicalNames(model.stateDict());
  const params = Object.fromEntries(named.filter(([name]) => canonical.get(name) === name));
  const before = Object.fromEntries(await Promise.all(Object.entries(params).map(async ([k, p]) => [k, await p.toArray()] as const)));
  const step = (check: boolean) =>
    tidy(() => {
      const out = model.forward(tensor(xData, shape), tensor(cleanData, shape));
      assert.is(out.classifiedClean, false);
      const terms = ferattLoss(out, labels, tensor(cleanData, shape));
      terms.total.backward();
      const grads = check ? Object.fromEntries(Object.entries(params).flatMap(([k, p]) => (p.grad ? [[k, keep(p.grad.clone())]] : []))) : {};
      optimizer.step();
      optimizer.zeroGrad();
      const outputs = check ? { z: out.z, logits: out.logits, att: out.attended, g_att: out.attention, g_ft: out.features } : {};
      return {
        outputs: Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, keep(t.detach())])),
        losses: Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, keep(t.detach())])),
        grads,
      };
    });
  const first = step(true);
  const o = first.outputs as Record<string, Tensor>;
  assertClose(await o.z.toArray(), get('out.z'), 'train z', tolerance);
  assertClose(await o.logits.toArray(), get('out.logits'), 'train logits', tolerance);
  for (const key of ['att', 'g_att', 'g_ft']) assertClose(await sample(o[key]), get(`sample.${key}`), `train ${key}`, tolerance);
  for (const [key, expected] of Object.entries(fixture.losses)) {
    assertClose([await first.losses[key].item()], [expected], `loss ${key}`, { atol: 1e-5, rtol: 1e-4 });
  }
  assert.is(gmmAccuracy(await o.z.toArray(), labels, dim), fixture.gmmAccuracy);

  const gradNames = Object.keys(prefixed('grad.'));
  assert.equal(Object.keys(first.grads).sort(), gradNames.sort(), 'the parameters with a gradient (all but encoder.fc)');
  assert.equal(Object.keys(params).filter((k) => !(k in first.grads)).sort(), fixture.noGradient);
  for (const [name, g] of Object.entries(first.grads) as [string, Tensor][]) {
    assertCloseInNorm(await g.toArray(), get(`grad.${name}`), `gradient of ${name}`, gradientTolerance);
  }

  const second = step(false);
  for (const [key, expected] of Object.entries(fixture.losses2)) {
    assertClose([await second.losses[key].item()], [expected], `loss ${key} after one step`, { atol: 1e-4, rtol: 1e-3 });
  }
  // Adam moves nearly every parameter by about lr per step whatever the gradient's size, and where the
  // two steps' gradients nearly cancel, the second update amplifies their float32 differences (the
  // encoder's gradients are ~1e-5 here): the updates are compared in norm over the whole model
  // (1e-2), per tensor (1e-1; the deep encoder's differ by 2-5e-2), and each within 2.5 lr.
  const all: [number[], number[]] = [[], []];
  for (const [name, p] of Object.entries(params)) {
    const after = await p.toArray();
    if (!(name in first.grads)) {
      assertClose(after, before[name], `${name} (no gradient) unchanged`, { atol: 0, rtol: 0 });
      continue;
    }
    const update = after.map((v, i) => (v - before[name][i]) / lr);
    const expected = get(`update.${name}`);
    assertCloseInNorm(update, expected, `update of ${name}`, { rtol: 1e-1 });
    assertClose(update, expected, `update of ${name}`, { atol: 2.5, rtol: 0 });
    all[0].push(...update);
    all[1].push(...expected);
  }
  assertCloseInNorm(all[0], all[1], 'the update of all parameters', { rtol: 1e-2 });
  const state = model.stateDict();
  for (const [name, expected] of Object.entries(prefixed('after.'))) {
    assertClose(await state[name].toArray(), numbers(expected), `${name} after two steps`, tolerance);
  }
  for (const name of ['attention_map.encoder.bn1.num_batches_tracked', 'attention_map.conv1.1.num_batches_tracked', 'netclass.layer4.1.bn2.num_batches_tracked']) {
    assert.equal([...(await state[name].toInt32Array())], [fixture.numBatchesTracked], name);
  }
  for (const part of [first, second]) {
    for (const t of [...Object.values(part.outputs), ...Object.values(part.losses), ...Object.values(part.grads)] as Tensor[]) t.dispose();
  }
  optimizer.dispose();
  model.dispose();
});

test('training mode with the clean-face substitution: the classifier sees clean, as PyTorch\'s x_org branch', async () => {
  const model = loadedModel();
  model.train();
  model.cleanProbability = 1;
  const out = noGrad(() => tidy(() => {
    const o = model.forward(tensor(xData, shape), tensor(cleanData, shape));
    assert.is(o.classifiedClean, true);
    return { z: o.z, logits: o.logits };
  }));
  assertClose(await out.z.toArray(), get('clean.z'), 'z on the clean face', tolerance);
  assertClose(await out.logits.toArray(), get('clean.logits'), 'logits on the clean face', tolerance);
  out.z.dispose();
  out.logits.dispose();
  model.dispose();
});

test('the 0.2 draw comes from the seeded generator: same seed, same choices; eval mode and no clean never draw', async () => {
  const { Generator } = await import('../src/engine/random.js');
  const draws = (seed: number) => {
    const g = new Generator(seed);
    return Array.from({ length: 40 }, () => g.random() < 0.2);
  };
  const expected = draws(5);
  assert.ok(expected.some(Boolean) && !expected.every(Boolean));
  const model = new FERAtt({ width: 2, dim: 4, numClasses: 2, generator: new Generator(5) });
  model.train();
  const seen: boolean[] = [];
  noGrad(() =>
    tidy(() => {
      const x = tensor(new Float32Array(2 * 3 * 128 * 128).fill(0.5), [2, 3, 128, 128]);
      model.forward(x); // no clean: no draw
      for (let i = 0; i < 6; i++) seen.push(model.forward(x, x).classifiedClean);
      model.eval();
      assert.is(model.forward(x, x).classifiedClean, false);
    }),
  );
  assert.equal(seen, expected.slice(0, 6));
  model.dispose();
});

test('losses on small cases: DGMM with an absent class, the attention loss forms, GMM accuracy', async () => {
  // z = [[0, 0], [2, 0], [0, 0]], labels [0, 2, 0]: μ_0 = (0, 0), μ_2 = (2, 0); class 1 absent.
  const z = tensor(Float32Array.of(0, 0, 2, 0, 0, 0), [3, 2]);
  const loss = noGrad(() => dgmmLoss(z, [0, 2, 0], 3));
  // Rows 0 and 2: π = (near, 1 − near) against (1, 0); row 1: π = (1 − near, near) against (0, 1).
  const near = 1 / (1 + Math.exp(-2)); // exp(0) / (exp(0) + exp(−4 / 2))
  assertClose([await loss.item()], [2 * (1 - near) ** 2], 'dgmm', { atol: 1e-6, rtol: 1e-5 });
  const clean = tensor(Float32Array.of(0, 1, 2, 3), [1, 1, 2, 2]);
  const att = tensor(Float32Array.of(0, 0.5, 2.5, 20), [1, 1, 2, 2]);
  const tanhForm = noGrad(() => attentionLoss(clean, att));
  const mseForm = noGrad(() => attentionLoss(clean, att, { form: 'mse' }));
  const e = [0, 0.5, 0.5, 17];
  assertClose([await tanhForm.item()], [(10 * e.reduce((s, v) => s + Math.tanh(3 * v), 0)) / 4], 'attention loss', { atol: 1e-5, rtol: 1e-5 });
  assertClose([await mseForm.item()], [10 * Math.min(e.reduce((s, v) => s + v * v, 0) / 4, 30)], 'attention loss (mse, clamped at 30)', { atol: 1e-4, rtol: 1e-5 });
  assert.is(gmmAccuracy([0, 0, 2, 0, 1.9, 0], [0, 2, 0], 2), (100 * 2) / 3); // μ_0 = (0.95, 0), μ_2 = (2, 0): row 2 is nearer μ_2
  assert.throws(() => dgmmLoss(z, [0, 3, 0], 3), /label 3 at 1 is not a class index in \[0, 3\)/);
  for (const t of [z, loss, clean, att, tanhForm, mseForm]) t.dispose();
});

test('at 64x64 (ours) the classifier pools the whole 2x2 layer4 map, which at 128 the official 4x4 pool does', async () => {
  const model = new FERAtt({ width: 2, dim: 4, numClasses: 3, inputSize: 64, cleanProbability: 0 }).eval();
  const x = tensor(Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => 0.5 + 0.5 * Math.sin(0.37 * i)), [2, 3, 64, 64]);
  const { z, attended, attention } = noGrad(() => model.forward(x));
  assert.equal(attended.shape, [2, 3, 64, 64]);
  assert.equal(attention.shape, [2, 1, 64, 64]);
  const { netclass } = model;
  const expected = noGrad(() => {
    const map = netclass.layers.reduce((y, layer) => layer.forward(y), netclass.conv1.forward(avgPool2d(attended, 4)));
    assert.equal(map.shape.slice(2), [2, 2]);
    return netclass.linear.forward(flatten(adaptiveAvgPool2d(map, [1, 1])));
  });
  assertClose(await z.toArray(), await expected.toArray(), 'z at 64x64', { atol: 1e-6, rtol: 1e-5 });
  for (const t of [x, z, attended, attention, expected]) t.dispose();
  model.dispose();
});

test('configuration errors are clear', () => {
  assert.throws(() => new FERAtt({ inputSize: 96 }), /inputSize \[96,96\] is not supported: each side must be 128 \(official\), 192, or 64 \(ours\)/);
  assert.throws(() => new FERAtt({ inputSize: [128, 256] }), /is not supported/);
  assert.throws(() => new FERAtt({ width: 5 }), /width must be an even integer/);
  assert.throws(() => new FERAtt({ numClasses: 1 }), /numClasses must be an integer >= 2/);
  assert.throws(() => new FERAtt({ cleanProbability: 1.5 }), /cleanProbability must be in \[0, 1\]/);
  const model = new FERAtt({ width: 2, dim: 4, numClasses: 2 });
  assert.throws(() => model.forward(tensor(new Float32Array(1 * 1 * 128 * 128), [1, 1, 128, 128])), /expected input \[N, 3, 128, 128\], got \[1,1,128,128\]/);
  model.dispose();
});

test.run();
