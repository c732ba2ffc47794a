// pcnn's training loop under `nanGuard: 'skip'`: each skipped batch is reported by its own number, and a
// run whose every step was skipped ends with exactly the weights and BatchNorm statistics it began with;
// what the training loader serves without augmentation; and a resumed run's check of its data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import './helpers/index.js';
import { train, trainingLoader, type TrainOptions } from '../src/fer/train.js';
import type { FerModel } from '../src/fer/families.js';
import { PCNN, type PCNNConfig } from '../src/pcnn/model.js';
import { manualSeed } from '../src/engine/random.js';
import { evalTransform, syntheticDataset } from '../src/fer/data/index.js';
import { loadSafetensors } from '../src/engine/io/safetensors.js';

const size = 32;
const config: Required<PCNNConfig> = { inChannels: 1, width: 1, numClasses: 7, inputSize: [size, size], stnInit: 'identity', registration: 'stn' };

/** What `run` wrote with console.error, line by line. */
async function errorLines(run: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (text: string) => void lines.push(text);
  try {
    await run();
  } finally {
    console.error = original;
  }
  return lines;
}

test('skipping every batch: each is reported by its number, and the model ends as it began, statistics included', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'pcnn-train-'));
  try {
    const poisoned = { length: 21, get: (i: number) => ({ image: new Float32Array(size * size).fill(NaN), label: i % 7, file: `nan:${i}` }) };
    const testSet = syntheticDataset({ count: 7, size });
    let model: FerModel | null = null;
    const lines = await errorLines(async () => {
      ({ model } = await train(
        {
          model: { name: 'pcnn', config }, batch: 7, epochs: 1, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, stepSize: 1, gamma: 0.1, alpha: 12, beta: 8,
          seed: 3, augment: false, out, resume: false, nanGuard: 'skip',
        },
        { train: poisoned, test: testSet, classNames: testSet.classNames },
      ));
    });
    model!.dispose();
    const skipped = lines.flatMap((line) => /^epoch 1, batch (\d+): skipped a step/.exec(line)?.[1] ?? []);
    assert.equal(skipped, ['1', '2', '3'], lines.join('\n'));

    manualSeed(3);
    const fresh = new PCNN(config);
    const saved = (await loadSafetensors(path.join(out, 'last.safetensors'))).tensors;
    for (const [name, t] of Object.entries(fresh.stateDict())) {
      const expected = t.dtype === 'int32' ? await t.toInt32Array() : await t.toArray();
      assert.equal([...saved[name].data].map(Number), Array.from(expected), name);
    }
    fresh.dispose();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('without augmentation the training loader serves the images as evaluation is given them (PCNN: normalised)', async () => {
  const images = syntheticDataset({ count: 4, size });
  const options = { model: { name: 'pcnn', config }, batch: 4, seed: 0, augment: false } as TrainOptions;
  const { value: batch } = await trainingLoader(images, options).epoch(0)[Symbol.asyncIterator]().next();
  const order = Array.from(batch.y);
  const byIndex = Array.from({ length: 4 }, (_, i) => images.get(i));
  for (let row = 0; row < 4; row++) {
    const served = batch.x.subarray(row * size * size, (row + 1) * size * size);
    const source = byIndex.find((s) => s.label === order[row] && evalTransform(s.image, [1, size, size]).every((v, j) => v === served[j]));
    assert.ok(source, `row ${row}: one of the images, normalised to mean 0.5 / std 0.5`);
  }
  assert.ok(Math.min(...batch.x) < 0, 'normalised values reach below 0');
});

test('--resume refuses data with other class names, naming both', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'pcnn-train-'));
  try {
    const trainSet = syntheticDataset({ count: 7, size });
    const testSet = syntheticDataset({ count: 7, size });
    const options: TrainOptions = {
      model: { name: 'pcnn', config }, batch: 7, epochs: 1, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, stepSize: 1, gamma: 0.1, alpha: 12, beta: 8,
      seed: 3, augment: false, out, resume: false, quiet: true,
    };
    const first = await train(options, { train: trainSet, test: testSet, classNames: testSet.classNames });
    first.model.dispose();
    const renamed = testSet.classNames.map((name, i) => (i === 0 ? 'furious' : name));
    await train({ ...options, resume: true }, { train: trainSet, test: testSet, classNames: renamed }).then(
      () => assert.unreachable('resumed on other classes'),
      (error: Error) => assert.match(error.message, /--resume: .*last\.safetensors has classes \[angry,.*\], this run's data \[furious,/),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
