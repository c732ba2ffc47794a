// The NaN guard: a non-finite loss or gradient is caught before the update, the first op that
// produced it is named, and the step is stopped or skipped without touching the weights.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { guardedTrainStep } from '../src/pcnn/step.js';
import { NonFiniteError } from '../src/pcnn/guard.js';
import { SGD } from '../src/optim/index.js';
import { upload } from '../src/engine/tensor.js';
import { manualSeed } from '../src/engine/random.js';

const size = 32;
function setup() {
  manualSeed(5);
  const model = new PCNN({ width: 1, inputSize: [size, size] });
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = Float32Array.from({ length: 2 * size * size }, (_, i) => Math.cos(i));
  return { model, optimizer, batch: { x, y: Int32Array.from([1, 4]) } };
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
  model.dispose();
  optimizer.dispose();
});

test.run();
