// ARPGNet (our reconstruction, src/arpgnet/model.ts) against the same model written in PyTorch 1.13 with
// PyG's GATConv semantics (scripts/fixtures/arpgnet.py, float64; width 2, 48x48 gray clips of T = 3,
// batch 2, D 16, 2 heads, 3 classes). 'gat' (the default structure): state-dict names, parameter count,
// eval and train logits, the last-step rule, the loss, every gradient, two Adam steps and the running
// statistics. 'sdpa' (SDPA fusion with the adjacency mask, learned position embedding, P = 3 on layer1,
// 4-neighbours, no symmetry, same-step cross edges): train logits, loss, every gradient. The ablations
// build and run; a clip of another shape is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { numbers, readFixture } from './helpers/fixture.js';
import { assertClose, assertCloseInNorm } from './helpers/index.js';
import fixture from './fixtures/arpgnet.json';
import { ARPGNet, type ARPGNetOptions } from '../src/arpgnet/model.js';
import type { StateDict } from '../src/nn/module.js';
import { Adam } from '../src/optim/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy, keep } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { crossEntropy } from '../src/kernels/softmax/index.js';

const { width, inputSize, frames, batch, dim, heads, classes, lr, weightDecay } = fixture.config;
const labels = Int32Array.from(fixture.y);
const { get, prefixed } = readFixture('arpgnet.safetensors');
const shape = [batch, frames, 1, inputSize, inputSize];




function options(name: 'gat' | 'sdpa'): ARPGNetOptions {
  const o = fixture.cases[name].options;
  return {
    frames, dim, heads, grid: o.grid, neighbours: o.neighbours as 4 | 8, symmetry: o.symmetry, relationStage: o.stage,
    fusion: o.fusion as 'gat' | 'sdpa', position: o.position as 'sinusoidal' | 'learned', cross: o.cross as 'same' | 'neighbours',
  };
}

function newModel(name: 'gat' | 'sdpa', extra: ARPGNetOptions = {}): ARPGNet {
  return new ARPGNet({ inChannels: 1, width, numClasses: classes, inputSize: [inputSize, inputSize], ...options(name), ...extra });
}

function loaded(name: 'gat' | 'sdpa'): ARPGNet {
  const model = newModel(name);
  const state: StateDict = Object.fromEntries(Object.entries(prefixed(`${name}.state.`)).map(([k, t]) => [k, { shape: t.shape, data: numbers(t) }]));
  model.loadStateDict(state);
  return model;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, b) => a + b * b, 0));

// Float32 through ~20 convolutions, batch norms and four attention layers, against float64.
const tolerance = { atol: 2e-4, rtol: 2e-3 };
const gradientTolerance = { rtol: 2e-3 };

test('state dict: the fixture\'s names and PyTorch\'s parameter count, for both configurations', () => {
  for (const name of ['gat', 'sdpa'] as const) {
    const model = newModel(name);
    assert.equal(Object.keys(model.stateDict()).sort(), Object.keys(prefixed(`${name}.state.`)).sort(), name);
    assert.is(model.parameters().reduce((n, p) => n + p.size, 0), fixture.cases[name].parameters, `${name}: parameters`);
    model.dispose();
  }
});

test('gat, eval mode: logits and the last-step rule match PyTorch', async () => {
  const model = loaded('gat').eval();
  const out = noGrad(() => tidy(() => model.forward(tensor(get('x'), shape))));
  assertClose(await out.logits.toArray(), get('gat.eval.logits'), 'eval logits', tolerance);
  assertClose(await out.lastStep.toArray(), get('gat.eval.lastStep'), 'eval last step', tolerance);
  out.logits.dispose();
  out.lastStep.dispose();
  model.dispose();
});

async function trainCheck(name: 'gat' | 'sdpa', steps: number): Promise<void> {
  const model = loaded(name).train();
  const optimizer = new Adam(model.parameters(), { lr, weightDecay });
  const named = Object.fromEntries(model.namedParameters());
  const step = (check: boolean) =>
    tidy(() => {
      const out = model.forward(tensor(get('x'), shape));
      const loss = crossEntropy(out.logits, labels);
      loss.backward();
      const grads = check ? Object.fromEntries(Object.entries(named).flatMap(([k, p]) => (p.grad ? [[k, keep(p.grad.clone())]] : []))) : {};
      optimizer.step();
      optimizer.zeroGrad();
      return { logits: keep(out.logits.detach()), lastStep: keep(out.lastStep.detach()), loss: keep(loss.detach()), grads };
    });
  const first = step(true);
  assertClose(await first.logits.toArray(), get(`${name}.out.logits`), `${name}: train logits`, tolerance);
  assertClose(await first.lastStep.toArray(), get(`${name}.out.lastStep`), `${name}: train last step`, tolerance);
  assertClose([await first.loss.item()], [fixture.cases[name].loss], `${name}: loss`, { atol: 1e-5, rtol: 1e-4 });
  const expectedGrads = Object.keys(prefixed(`${name}.grad.`));
  assert.equal(Object.keys(first.grads).sort(), expectedGrads.sort(), `${name}: every parameter has a gradient`);
  for (const [k, g] of Object.entries(first.grads) as [string, Tensor][]) {
    const [actual, expected] = [await g.toArray(), get(`${name}.grad.${k}`)];
    // Constants added to a softmax's inputs have no gradient: SDPA's key bias (q·b_k is the same for
    // every key of a query), and GAT's att_dst where every edge into a target has its score on one side
    // of the LeakyReLU. PyTorch's is ~1e-18 there, ours float32 noise.
    if (norm(expected) < 1e-10 && (k.endsWith('att_dst') || k.endsWith('.k.bias'))) assert.ok(norm(actual) < 1e-6, `${name}: gradient of ${k} is ~0 (${norm(actual)})`);
    else assertCloseInNorm(actual, expected, `${name}: gradient of ${k}`, gradientTolerance);
  }
  const parts = [first];
  if (steps > 1) {
    const second = step(false);
    parts.push(second);
    assertClose([await second.loss.item()], [(fixture.cases.gat as { loss2: number }).loss2], `${name}: loss after one step`, { atol: 1e-4, rtol: 1e-3 });
    const state = model.stateDict();
    for (const [k, expected] of Object.entries(prefixed(`${name}.after.`))) {
      assertClose(await state[k].toArray(), numbers(expected), `${name}: ${k} after two steps`, { atol: 5e-4, rtol: 5e-3 });
    }
    assert.equal([...(await state['trunk.1.num_batches_tracked'].toInt32Array())], [(fixture.cases.gat as { numBatchesTracked: number }).numBatchesTracked]);
  }
  for (const part of parts) for (const t of [part.logits, part.lastStep, part.loss, ...(Object.values(part.grads) as Tensor[])]) t.dispose();
  optimizer.dispose();
  model.dispose();
}

test('gat, train mode: logits, last step, loss, every gradient, two Adam steps and running statistics match PyTorch', () => trainCheck('gat', 2));

test('sdpa fusion with the adjacency mask, learned position embedding, P = 3 on layer1: logits, loss, every gradient match PyTorch', () => trainCheck('sdpa', 1));

test('ablations build and run (appearance or relation branch alone, no position encoding, no cross edges, P = 7, T = 1); a wrong clip shape is refused', async () => {
  const variants: ARPGNetOptions[] = [
    { branches: 'appearance' }, { branches: 'relation' }, { position: 'none', cross: 'none' }, { grid: 7, neighbours: 4 }, { frames: 1 },
  ];
  for (const variant of variants) {
    const model = newModel('gat', variant);
    const T = variant.frames ?? frames;
    const loss = tidy(() => {
      const out = model.forward(tensor(new Float32Array(batch * T * inputSize * inputSize).map((_, i) => Math.sin(i)), [batch, T, 1, inputSize, inputSize]));
      const l = crossEntropy(out.logits, labels);
      l.backward();
      return keep(l.detach());
    });
    const value = await loss.item();
    assert.ok(Number.isFinite(value), `${JSON.stringify(variant)}: finite loss ${value}`);
    loss.dispose();
    const withGrad = model.parameters().filter((p) => p.grad).length;
    if (variant.branches === 'relation') {
      assert.is(model.layer4, null);
      assert.ok(withGrad < model.parameters().length, 'relation alone: layer3 of the trunk is not run');
    } else {
      assert.is(withGrad, model.parameters().length, `${JSON.stringify(variant)}: every parameter is trained`);
    }
    model.dispose();
  }
  const model = newModel('gat');
  assert.throws(() => model.forward(tensor(new Float32Array(2 * 1 * 48 * 48), [2, 1, 48, 48])), /expected clips \[N, 3, 1, 48, 48\], got \[2,1,48,48\]/);
  model.dispose();
  assert.throws(() => newModel('gat', { dim: 15 }), /dim 15 is not divisible by heads 2/);
  assert.throws(() => newModel('gat', { fusion: 'rnn' as 'gat' }), /fusion must be one of gat, sdpa/);
});

test.run();
