// The NaN guard: a non-finite loss or gradient is caught before the update, the first op that
// produced it is named, and the step is stopped or skipped leaving the weights, the BatchNorm running
// statistics and the optimizer state as they were; a finite guarded step is an unguarded step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { guardedTrainStep, trainStep, type Batch } from '../src/fer/step.js';
import { NonFiniteError } from '../src/fer/guard.js';
import { SGD } from '../src/optim/index.js';
import { upload, type Tensor } from '../src/engine/tensor.js';
import { manualSeed } from '../src/engine/random.js';

const size = 32;
function setup() {
  manualSeed(5);
  const model = new PCNN({ width: 1, inputSize: [size, size] });
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = Float32Array.from({ length: 2 * size * size }, (_, i) => Math.cos(i));
  return { model, optimizer, batch: { x, y: Int32Array.from([1, 4]) } };
}

/** Every weight, BatchNorm running statistic (registration statistics included) and optimizer state
 *  tensor, as bytes by name. */
async function trainingState(model: PCNN, optimizer: SGD): Promise<Record<string, Uint8Array>> {
  const tensors: [string, Tensor][] = Object.entries(model.stateDict());
  for (const [i, s] of (model.registrationStatistics ?? []).entries()) tensors.push([`registration.${i}.mean`, s.mean], [`registration.${i}.variance`, s.variance]);
  for (const [index, entries] of Object.entries(optimizer.stateDict().state)) {
    for (const [name, value] of Object.entries(entries)) tensors.push([`optimizer.${index}.${name}`, value as Tensor]);
  }
  const bytes = await Promise.all(tensors.map(async ([, t]) => new Uint8Array((t.dtype === 'int32' ? await t.toInt32Array() : await t.toArray()).buffer)));
  return Object.fromEntries(tensors.map(([name], i) => [name, bytes[i]]));
}

/** The names whose bytes differ between two `trainingState`s (or that only one has). */
function differing(a: Record<string, Uint8Array>, b: Record<string, Uint8Array>): string[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return names.filter((name) => !a[name] || !b[name] || a[name].length !== b[name].length || a[name].some((byte, i) => byte !== b[name][i]));
}

/** A model that has taken one finite step (so that it has momentum buffers and moved statistics),
 *  then had a BatchNorm weight of the right-cheek trunk's stem set to infinity. */
async function poisonedAfterOneStep() {
  const setupResult = setup();
  await guardedTrainStep(setupResult.model, setupResult.optimizer, setupResult.batch, { onNonFinite: 'stop' });
  upload(setupResult.model.stateDict()['features6.1.weight'], [Infinity]);
  return setupResult;
}

test('a finite step updates the weights', async () => {
  const { model, optimizer, batch } = setup();
  const before = await model.fc.weight.toArray();
  const result = await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'stop' });
  assert.ok(Number.isFinite(result.loss));
  assert.not.equal(await model.fc.weight.toArray(), before);
  model.dispose();
  optimizer.dispose();
});

test('an infinite weight in one trunk is traced to the op it first poisons', async () => {
  const { model, optimizer, batch } = setup();
  // The cheek trunks run alone here (paired, they run as one: see below).
  model.pairLocalTrunks = false;
  const weight = model.stateDict()['features6.1.weight']; // batch norm of the right-cheek trunk's stem
  upload(weight, [Infinity]);
  const before = await model.fc.weight.toArray();
  try {
    await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'stop' });
    assert.unreachable('the guard should stop');
  } catch (error) {
    assert.instance(error, NonFiniteError);
    assert.match((error as Error).message, /first produced by batchNorm2dFused \(forward\) output \[2,1,/);
  }
  const skipped = await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'skip' });
  assert.match(skipped.skipped!, /^batchNorm2dFused \(forward\)/);
  assert.equal(await model.fc.weight.toArray(), before, 'no update was applied');
  // Paired (src/pcnn/paired.ts), the first op to see it stacks the two cheek trunks' stem weights.
  model.pairLocalTrunks = true;
  const paired = await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'skip' });
  assert.match(paired.skipped!, /^stackPair \(forward\) output \[2\]/);
  assert.equal(await model.fc.weight.toArray(), before, 'no update was applied');
  model.dispose();
  optimizer.dispose();
});

test('a skipped step leaves the weights, the BatchNorm statistics and the optimizer state bit for bit as before', async () => {
  const { model, optimizer, batch } = await poisonedAfterOneStep();
  model.setRegistrationStatistics(model.layer4Norms().map((bn) => bn.newStatistics()));
  const before = await trainingState(model, optimizer);
  const skipped = await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'skip' });
  assert.ok(skipped.skipped, 'the step was skipped');
  assert.equal(differing(await trainingState(model, optimizer), before), []);
  model.dispose();
  optimizer.dispose();
});

test('a stopped step leaves the weights, the BatchNorm statistics and the optimizer state bit for bit as before', async () => {
  const { model, optimizer, batch } = await poisonedAfterOneStep();
  const before = await trainingState(model, optimizer);
  try {
    await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'stop' });
    assert.unreachable('the guard should stop');
  } catch (error) {
    assert.instance(error, NonFiniteError);
  }
  assert.equal(differing(await trainingState(model, optimizer), before), []);
  model.dispose();
  optimizer.dispose();
});

test('a model with a cumulative-average BatchNorm is refused: its host-side batch count could not be put back', async () => {
  const { model, optimizer, batch } = setup();
  model.layer4Norms()[0].momentum = null;
  try {
    await guardedTrainStep(model, optimizer, batch, { onNonFinite: 'skip' });
    assert.unreachable('the guard should refuse');
  } catch (error) {
    assert.match((error as Error).message, /guardedTrainStep: a BatchNorm2d\(\d+\) has momentum null/);
  }
  model.dispose();
  optimizer.dispose();
});

test('finite guarded steps compute bit for bit what unguarded steps do', async () => {
  const steps = async (step: (model: PCNN, optimizer: SGD, batch: Batch) => Promise<{ loss: number; logits: Float32Array }>) => {
    const { model, optimizer, batch } = setup();
    const results = [await step(model, optimizer, batch), await step(model, optimizer, batch)];
    const state = await trainingState(model, optimizer);
    model.dispose();
    optimizer.dispose();
    return { results: results.map(({ loss, logits }) => ({ loss, logits })), state };
  };
  const unguarded = await steps((model, optimizer, batch) => trainStep(model, optimizer, batch));
  const guarded = await steps((model, optimizer, batch) => guardedTrainStep(model, optimizer, batch, { onNonFinite: 'stop' }));
  assert.equal(guarded.results, unguarded.results, 'losses and logits');
  assert.equal(differing(guarded.state, unguarded.state), [], 'weights, statistics and optimizer state');
});

test.run();
