// PCNN inference (eval mode, no grad: BatchNorm folded into the convolutions): the folded weights are
// kept between calls and made again only when a buffer they come from has been written (a training
// step, an upload, a load), so a cached call computes exactly what a fresh model computes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelsDispatched } from './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { SGD } from '../src/optim/index.js';
import { tensor, upload, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { pool } from '../src/engine/pool.js';
import { trainStep } from '../src/fer/step.js';
import { contentVersion } from '../src/engine/recorder.js';

const size = 32;
const input = () => tensor(Float32Array.from({ length: 2 * size * size }, (_, i) => Math.sin(0.7 * i)), [2, 1, size, size]);

async function infer(model: PCNN, x: Tensor): Promise<number[]> {
  const out = noGrad(() => tidy(() => model.forward(x).out));
  const values = Array.from(await out.toArray());
  out.dispose();
  return values;
}

/** The same model made afresh from `model`'s state dict (its folds computed anew). */
async function freshCopy(model: PCNN): Promise<number[][]> {
  const copy = new PCNN({ width: 2, inputSize: [size, size] });
  copy.loadStateDict(model.stateDict());
  copy.eval();
  const x = input();
  const out = [await infer(copy, x)];
  x.dispose();
  copy.dispose();
  return out;
}

test('eval-mode inference folds once, refolds after writes (upload, training step), and matches a fresh model', async () => {
  const model = new PCNN({ width: 2, inputSize: [size, size] });
  const x = input();
  model.eval();
  const first = await infer(model, x);
  const kernels = await kernelsDispatched(() => void noGrad(() => tidy(() => model.forward(x).out)));
  assert.not.ok(kernels.includes('conv2d_fold_batchnorm'), 'the second call folds nothing');
  assert.equal(await infer(model, x), first, 'the cached folds give the same logits');
  assert.equal([first], await freshCopy(model), 'the same as a fresh model');

  // An upload into one BatchNorm's weight refolds that convolution.
  const bn = model.features1.layers[1] as unknown as { weight: Tensor };
  upload(bn.weight, Float32Array.from({ length: bn.weight.size }, (_, i) => 0.5 + 0.1 * i));
  const refolded = await kernelsDispatched(() => void noGrad(() => tidy(() => model.forward(x).out)));
  assert.is(refolded.filter((k) => k === 'conv2d_fold_batchnorm').length, 1, 'only the stem of features1 is folded again');
  const afterUpload = await infer(model, x);
  assert.not.equal(afterUpload, first);
  assert.equal([afterUpload], await freshCopy(model));

  // A training step (packed SGD: one buffer for all parameters) and new running statistics.
  model.train();
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const batch = { x: Float32Array.from({ length: 4 * size * size }, (_, i) => Math.cos(i)), y: Int32Array.from([0, 1, 2, 3]) };
  await trainStep(model, optimizer, batch);
  model.eval();
  const afterStep = await infer(model, x);
  assert.not.equal(afterStep, afterUpload);
  assert.equal([afterStep], await freshCopy(model));
  optimizer.dispose();
  x.dispose();
  model.dispose();
});

test('a training-mode forward and dispose() free the folded weights', async () => {
  const inUse = () => pool.memory().bytesInUse;
  const before = inUse();
  const model = new PCNN({ width: 2, inputSize: [size, size] });
  const x = input();
  const withModel = inUse();
  model.eval();
  await infer(model, x);
  assert.ok(inUse() > withModel, 'the folds are kept');
  model.train();
  const out = tidy(() => model.forward(x).out);
  out.dispose();
  assert.is(inUse(), withModel, 'a training forward freed them');
  model.eval();
  await infer(model, x);
  x.dispose();
  model.dispose();
  assert.is(inUse(), before, 'dispose freed parameters, buffers and folds');
});

test('contentVersion counts writes: dispatches binding a buffer read_write and copies into it', async () => {
  const a = tensor([1, 2, 3, 4], [4]);
  const v0 = contentVersion(a.buffer);
  upload(a, [5, 6, 7, 8]);
  assert.is(contentVersion(a.buffer), v0 + 1, 'an upload');
  const b = tidy(() => a.clone());
  assert.is(contentVersion(a.buffer), v0 + 1, 'reading it is no write');
  a.dispose();
  b.dispose();
});

test.run();
