// Stochastic weight averaging and BatchNorm re-estimation (PyTorch's swa_utils.AveragedModel and
// update_bn): the average against float64, its checkpoint round trip; PCNN's statistics re-estimated
// per layer4 input against the channel statistics of the two inputs computed on the host; FERAtt's
// classifier statistics re-estimated on its attended composites, never on the clean faces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, randomData } from './helpers/index.js';
import { tensor, upload } from '../src/engine/tensor.js';
import { add } from '../src/kernels/elementwise/index.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { Sequential } from '../src/nn/module.js';
import { WeightAverage } from '../src/optim/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { BasicBlock } from '../src/pcnn/resnet.js';
import { loadRegistrationState, registrationState } from '../src/pcnn/registration-statistics.js';
import { recalibrateBatchNorm } from '../src/fer/recalibrate.js';
import { FERAtt } from '../src/feratt/model.js';
import { ARPGNet } from '../src/arpgnet/model.js';
import { Conv2d } from '../src/nn/conv.js';
import { batchNorms } from '../src/nn/batchnorm.js';
import type { PreActBlock } from '../src/feratt/preact.js';
import { family } from '../src/fer/families.js';
import { avgPool2d } from '../src/kernels/pool/index.js';
import { syntheticDataset } from '../src/fer/data/synthetic.js';
import { DataLoader, evalTransform, type Sample } from '../src/fer/data/index.js';

test('WeightAverage: the equal-weight mean of its snapshots; a shared tensor once; state round trip; clear errors', async () => {
  const a = tensor(new Float32Array(5), [5]);
  const b = tensor(new Float32Array(3), [3, 1]);
  const average = new WeightAverage([['a', a], ['b', b], ['alias', a]]);
  const snapshots = [0, 1, 2, 3].map((i) => [randomData(5, 10 + i), randomData(3, 20 + i)]);
  for (const [va, vb] of snapshots) {
    upload(a, va);
    upload(b, vb);
    average.update();
  }
  const mean = (k: number, n: number) => Float64Array.from({ length: n }, (_, j) => snapshots.reduce((s, v) => s + Float32Array.from(v[k])[j], 0) / snapshots.length);
  assert.is(average.count, 4);
  assert.equal(Object.keys(average.stateDict().tensors), ['a', 'b']);
  average.copyToParameters();
  assertClose(await a.toArray(), mean(0, 5), 'average of a');
  assertClose(await b.toArray(), mean(1, 3), 'average of b');

  const restored = new WeightAverage([['a', a], ['b', b]]);
  const { tensors, count } = average.stateDict();
  restored.loadStateDict({ tensors: { a: { shape: [5], data: await tensors.a.toArray() }, b: tensors.b }, count });
  upload(a, new Float32Array(5).fill(9));
  restored.update();
  restored.copyToParameters();
  assertClose(await a.toArray(), mean(0, 5).map((m) => (4 * Math.fround(m) + 9) / 5), 'a fifth snapshot after a round trip', { atol: 1e-6 });
  assert.throws(() => restored.loadStateDict({ tensors: { a: tensors.a }, count: 1 }), /loadStateDict \(WeightAverage\): missing: b/);
  assert.throws(() => restored.loadStateDict({ tensors: { a: tensors.b, b: tensors.b }, count: 1 }), /loadStateDict \(WeightAverage\): mis-shaped: 1 entry: a: got \[3,1\], expected \[5\]/);
  assert.throws(() => new WeightAverage([['a', a]]).copyToParameters(), /no snapshot/);
  for (const t of [average, restored]) t.dispose();
  a.dispose();
  b.dispose();
});

/** Per-channel mean and unbiased variance of an [N, C, H, W] array. */
function channelStats(x: Float32Array, [n, c, h, w]: readonly number[]) {
  const count = n * h * w;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const values = Array.from({ length: count }, (_, i) => x[(Math.floor(i / (h * w)) * c + ch) * h * w + (i % (h * w))]);
    mean[ch] = values.reduce((s, v) => s + v, 0) / count;
    variance[ch] = values.reduce((s, v) => s + (v - mean[ch]) ** 2, 0) / (count - 1);
  }
  return { mean, variance };
}

test("recalibrateBatchNorm: layer4's statistics per input (x10, x1 + x11), or one cumulative set for both calls", async () => {
  const model = new PCNN({ width: 2, inputSize: [48, 48], stnInit: 'default' });
  const shape = [1, 48, 48] as const;
  const samples: Sample[] = Array.from({ length: 6 }, (_, i) => ({ image: Float32Array.from(randomData(48 * 48, 40 + i, 0, 1)), label: i % 7, file: `image${i}` }));
  // What layer4's first BatchNorm sees on each pass, from a training-mode forward of the same batch.
  const x = tensor(Float32Array.from(samples.flatMap((s) => [...evalTransform(s.image, shape)])), [6, ...shape]);
  const conv = ((model.features8.layers[0] as Sequential).layers[0] as BasicBlock).conv1;
  const inputs = noGrad(() =>
    tidy(() => {
      const { x10, global, x11 } = model.forwardDetailed(x);
      return [conv.forward(x10), conv.forward(add(global, x11))];
    }),
  );
  const [registration, classification] = await Promise.all(inputs.map(async (t) => channelStats(await t.toArray(), t.shape)));
  inputs.forEach((t) => t.dispose());
  x.dispose();
  const bn = model.layer4Norms()[0];

  await recalibrateBatchNorm(model, samples, { batchSize: 6, perPath: true, seed: 0 });
  const lent = model.registrationStatistics![0];
  assertClose(await lent.mean.toArray(), registration.mean, 'registration mean', { atol: 1e-4, rtol: 1e-4 });
  assertClose(await lent.variance.toArray(), registration.variance, 'registration variance', { atol: 1e-4, rtol: 1e-4 });
  assertClose(await bn.runningMean!.toArray(), classification.mean, 'classification mean', { atol: 1e-4, rtol: 1e-4 });
  assertClose(await bn.runningVar!.toArray(), classification.variance, 'classification variance', { atol: 1e-4, rtol: 1e-4 });
  assert.is(bn.momentum, 0.1, 'momentum restored');

  await recalibrateBatchNorm(model, samples, { batchSize: 6, perPath: false, seed: 0 });
  assert.is(model.registrationStatistics, null);
  const both = (k: 'mean' | 'variance') => registration[k].map((v, c) => (v + classification[k][c]) / 2);
  assertClose(await bn.runningMean!.toArray(), both('mean'), 'shared mean: both calls averaged', { atol: 1e-4, rtol: 1e-4 });
  assertClose(await bn.runningVar!.toArray(), both('variance'), 'shared variance', { atol: 1e-4, rtol: 1e-4 });
  model.dispose();
});

test("recalibrateBatchNorm (FERAtt): the classifier's statistics are those of the attended composites, never of the clean faces", async () => {
  const model = new FERAtt({ width: 2, numClasses: 7, dim: 8, inputSize: 64, cleanProbability: 1 });
  const faces = syntheticDataset({ count: 7, size: 64, channels: 3, seed: 3, masks: true });
  const composites = family('feratt').trainingSet(faces, { seed: 9, config: model.config, augment: false });
  const batches = new DataLoader(composites, { batchSize: 7, shape: [3, 64, 64], shuffle: false }).epoch(0);
  const { value: batch } = await batches[Symbol.asyncIterator]().next();
  // What netclass's first BatchNorm (layer1.0.bn1, after conv1) sees, fed the attended or the clean faces.
  model.train();
  const [attended, clean] = noGrad(() =>
    tidy(() => {
      const x = tensor(batch.x, [7, 3, 64, 64]);
      return [model.forward(x).attended, tensor(batch.clean!, [7, 3, 64, 64])].map((face) => model.netclass.conv1.forward(avgPool2d(face, 4)));
    }),
  );
  const [seen, notSeen] = await Promise.all([attended, clean].map(async (t) => channelStats(await t.toArray(), t.shape)));
  [attended, clean].forEach((t) => t.dispose());
  const bn = (model.netclass.layers[0].layers[0] as PreActBlock).bn1;

  await recalibrateBatchNorm(model, faces, { batchSize: 7, perPath: false, seed: 9 });
  const mean = await bn.runningMean!.toArray();
  assertClose(mean, seen.mean, 'running mean: attended faces', { atol: 1e-4, rtol: 1e-4 });
  assertClose(await bn.runningVar!.toArray(), seen.variance, 'running variance: attended faces', { atol: 1e-4, rtol: 1e-4 });
  assert.ok(mean.some((m, c) => Math.abs(m - notSeen.mean[c]) > 1e-2), 'the clean faces give other statistics');
  const refusal = await recalibrateBatchNorm(model, faces, { batchSize: 7, perPath: true, seed: 9 }).then(() => '', (e: Error) => e.message);
  assert.match(refusal, /perPath keeps PCNN's layer4 statistics apart for its two inputs; FERAtt has no such pass/);
  model.dispose();
});

test('recalibrateBatchNorm (ARPGNet): clips of T frames go through the model as [N, T, C, H, W]; momenta restored', async () => {
  const model = new ARPGNet({ inChannels: 1, width: 2, numClasses: 7, inputSize: [32, 32], frames: 2, dim: 8, heads: 2 });
  const clips: Sample[] = Array.from({ length: 4 }, (_, i) => ({ image: Float32Array.from(randomData(2 * 32 * 32, 60 + i, 0, 1)), label: i % 7, file: `clip${i}` }));
  const bn = batchNorms(model)[0];
  await recalibrateBatchNorm(model, clips, { batchSize: 4, perPath: false, seed: 0 });
  // The first BatchNorm follows the trunk's first convolution over every frame: 8 images of 2 frames x 4 clips.
  const frames = tensor(Float32Array.from(clips.flatMap((c) => [...evalTransform(c.image, [2, 32, 32])])), [8, 1, 32, 32]);
  const seen = noGrad(() => tidy(() => (model.trunk.layers[0] as Conv2d).forward(frames)));
  const expected = channelStats(await seen.toArray(), seen.shape);
  seen.dispose();
  frames.dispose();
  assertClose(await bn.runningMean!.toArray(), expected.mean, 'running mean over every frame', { atol: 1e-4, rtol: 1e-4 });
  assert.is(bn.momentum, 0.1, 'momentum restored');
  model.dispose();
});

test('registration statistics: saved and loaded by name; a file missing one is refused and leaves the model as it was', async () => {
  const source = new PCNN({ width: 1, inputSize: [32, 32] });
  const statistics = source.layer4Norms().map((bn) => bn.newStatistics());
  statistics.forEach((s, i) => {
    upload(s.mean, Float32Array.from({ length: s.mean.size }, (_, c) => i + c / 10));
    upload(s.variance, Float32Array.from({ length: s.variance.size }, (_, c) => 1 + i + c));
  });
  source.setRegistrationStatistics(statistics);
  const saved = registrationState(source);
  const target = new PCNN({ width: 1, inputSize: [32, 32] });
  const partial = { ...saved };
  delete partial['3.running_var'];
  assert.throws(() => loadRegistrationState(target, partial, 'final.safetensors'), /final\.safetensors: registration statistics.*missing: 3\.running_var/);
  assert.is(target.registrationStatistics, null);
  loadRegistrationState(target, saved, 'final.safetensors');
  for (const [i, s] of target.registrationStatistics!.entries()) {
    assert.equal([...(await s.mean.toArray())], [...(await statistics[i].mean.toArray())], `${i}.running_mean`);
    assert.equal([...(await s.variance.toArray())], [...(await statistics[i].variance.toArray())], `${i}.running_var`);
  }
  source.dispose();
  target.dispose();
});

test.run();
