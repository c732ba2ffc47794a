// Runs that would end in a silent result or a false record are refused before any training (issue 18):
// no training step, a loss or gradient turned around, a flag given a value, options a command (or its
// data or checkpoint) does not use, and an evaluation whose classes are not the checkpoint's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcnn, refusal } from './helpers/cli.js';
import { parseArgs, type OptionSpecs } from '../src/fer/args.js';
import { train, type TrainOptions } from '../src/fer/train.js';
import { PCNN, type PCNNConfig } from '../src/pcnn/model.js';
import { saveCheckpoint } from '../src/fer/checkpoint.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { tensor } from '../src/engine/tensor.js';
import { syntheticDataset, syntheticFace, encodePng } from '../src/fer/data/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-refusals-'));

const specs = {
  epochs: { type: 'int', default: 8, range: 'positive', help: '' },
  alpha: { type: 'number', default: 12, range: 'non-negative', help: '' },
  width: { type: 'int', default: 8, help: '' },
  resume: { type: 'flag', help: '' },
} satisfies OptionSpecs;

test('parseArgs: values out of an option\'s range, an empty number and a flag given a value are errors naming the option', () => {
  assert.throws(() => parseArgs(['--epochs', '0'], specs, 'train'), /^--epochs expects a positive integer, got '0'$/);
  assert.throws(() => parseArgs(['--epochs=-3'], specs, 'train'), /^--epochs expects a positive integer, got '-3'$/);
  assert.throws(() => parseArgs(['--alpha', '-12'], specs, 'train'), /^--alpha expects a non-negative number, got '-12'$/);
  assert.is(parseArgs(['--alpha', '0'], specs, 'train').options.alpha, 0, '0 is not negative');
  assert.throws(() => parseArgs(['--width', ''], specs, 'train'), /^--width expects an integer, got ''$/, 'Number(\'\') is 0');
  for (const value of ['0', 'false', 'true', '']) {
    assert.throws(() => parseArgs([`--resume=${value}`], specs, 'train'), new RegExp(`^--resume is a flag and takes no value, got '--resume=${value}'`));
  }
  const { options, given } = parseArgs(['--resume', '--epochs', '2'], specs, 'train');
  assert.equal([options.resume, options.epochs, [...given].sort()], [true, 2, ['epochs', 'resume']]);
});

test('pcnn: a run without a training step, a negative loss weight or max norm, a flag with a value are refused', () => {
  assert.match(refusal('train', '--epochs', '0'), /--epochs expects a positive integer, got '0'/);
  assert.match(refusal('train', '--epochs', '-3'), /--epochs expects a positive integer, got '-3'/);
  assert.match(refusal('train', '--clip-grad-norm', '-1'), /--clip-grad-norm expects a positive number, got '-1'/);
  assert.match(refusal('train', '--alpha', '-12', '--beta', '-8'), /--alpha expects a non-negative number, got '-12'/);
  assert.match(refusal('train', '--resume=0'), /--resume is a flag and takes no value, got '--resume=0'/);
  const oneImage = refusal('train', '--synthetic-count', '1', '--width', '1', '--input-size', '32');
  assert.match(oneImage, /the training split has 1 image\(s\): at batch 32 no training step would run/);
});

test('pcnn: an option the command does not use is unknown to it', () => {
  assert.match(refusal('eval', '--lr', '0.1'), /^pcnn eval: unknown option --lr \(see pcnn eval --help\)/);
  assert.match(refusal('info', '--checkpoint', 'x.safetensors'), /^pcnn info: unknown option --checkpoint/);
  assert.match(refusal('predict', '--batch', '4', 'x.png'), /^pcnn predict: unknown option --batch/);
  assert.match(refusal('cv', '--fold', '3'), /^pcnn cv: unknown option --fold/);
  assert.match(refusal('train', '--robustness'), /^pcnn train: unknown option --robustness/);
  assert.is(refusal('predict'), 'pcnn predict: give one or more image files', 'the command named once');
});

test('pcnn train: --fold and --synthetic-count are refused with data that does not read them', () => {
  assert.match(refusal('train', '--fold', '99'), /--fold not used with --data synthetic \(.*--fold, --folds and --last-frame for a subject-wise folder/);
  assert.match(refusal('train', '--last-frame'), /--last-frame not used with --data synthetic \(.*--last-frame for a subject-wise folder/);
  const folder = classFolder('letters', ['a', 'b']);
  assert.match(refusal('train', '--data', folder, '--synthetic-count', '10', '--classes', '2'), /--synthetic-count not used with --data .*letters/);
});

/** A class-per-folder image set: five 32x32 faces per class. */
function classFolder(name: string, classes: string[]): string {
  const root = path.join(dir, name);
  for (const [label, cls] of classes.entries()) {
    mkdirSync(path.join(root, cls), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(path.join(root, cls, `${i}.png`), encodePng(syntheticFace(i, label, 32), 1, 32, 32));
  }
  return root;
}

/** One of our checkpoints, untrained, of the synthetic set's 7 classes. */
async function sevenClassCheckpoint(): Promise<string> {
  const config: Required<PCNNConfig> = { inChannels: 1, width: 1, numClasses: 7, inputSize: [32, 32], stnInit: 'identity', registration: 'stn' };
  const model = new PCNN(config);
  const file = path.join(dir, 'seven.safetensors');
  const classNames = syntheticDataset({ count: 1 }).classNames;
  await saveCheckpoint(file, { model, meta: { config, classNames, epoch: 1, bestAccuracy: 0, history: [], recipe: {} } });
  model.dispose();
  return file;
}

test('pcnn eval: model options beside a checkpoint that holds its configuration, and data of other classes, are refused', async () => {
  const checkpoint = await sevenClassCheckpoint();
  const width = refusal('eval', '--checkpoint', checkpoint, '--width', '4', '--synthetic-count', '8');
  assert.match(width, /--width not used: .*seven\.safetensors holds its model configuration \(--input-size 32, --in-channels 1, --width 1, --classes 7, --registration stn\)/);
  const folder = classFolder('two', ['a', 'b']);
  const classes = refusal('eval', '--checkpoint', checkpoint, '--data', folder, '--out', dir);
  assert.match(classes, /the classes of two, 2 \(a, b\), are not those of .*seven\.safetensors, 7 \(angry, disgust, /);
  const same = pcnn('eval', '--checkpoint', checkpoint, '--synthetic-count', '8', '--out', dir);
  assert.is(same.code, 0, same.err);
});

function tinyTraining(overrides: Partial<TrainOptions>): TrainOptions {
  const model: Required<PCNNConfig> = { inChannels: 1, width: 1, numClasses: 7, inputSize: [32, 32], stnInit: 'identity', registration: 'stn' };
  return {
    model: { name: 'pcnn', config: model }, batch: 4, epochs: 1, lr: 0.01, momentum: 0.9, weightDecay: 0, stepSize: 10, gamma: 0.5, alpha: 12, beta: 8, seed: 0,
    augment: false, out: path.join(dir, 'library'), resume: false, quiet: true, ...overrides,
  };
}

test('train (the library) refuses zero epochs, a split without a step, an empty test split, negative weights and max norms', async () => {
  const data = (trainCount: number, testCount = 4) => ({
    train: syntheticDataset({ count: trainCount, size: 32 }), test: syntheticDataset({ count: testCount, size: 32, seed: 1 }), classNames: syntheticDataset({ count: 0 }).classNames,
  });
  const refused = async (options: TrainOptions, d: ReturnType<typeof data>, expected: RegExp) => {
    try {
      await train(options, d);
    } catch (error) {
      assert.match((error as Error).message, expected);
      return;
    }
    assert.unreachable(`expected ${expected}`);
  };
  await refused(tinyTraining({ epochs: 0 }), data(8), /^epochs must be a positive integer, got 0$/);
  await refused(tinyTraining({ epochs: -3 }), data(8), /^epochs must be a positive integer, got -3$/);
  await refused(tinyTraining({}), data(1), /^the training split has 1 image\(s\): at batch 4 no training step would run/);
  await refused(tinyTraining({ batch: 4 }), data(0), /^the training split has 0 image\(s\)/);
  await refused(tinyTraining({}), data(8, 0), /^the test split has no images/);
  await refused(tinyTraining({ alpha: -12, beta: -8 }), data(8), /^the loss weight alpha must be a number >= 0, got -12$/);
  await refused(tinyTraining({ alpha: 0, beta: 0 }), data(8), /^the loss weights alpha and beta are both 0/);
  await refused(tinyTraining({ clipGradNorm: -1 }), data(8), /^clipGradNorm must be a max norm > 0, got -1$/);
});

test('clipGradNorm refuses a max norm of 0 or below (it would zero the gradients or flip their sign)', () => {
  const p = tensor([1, 2, 3], [3]);
  p.grad = tensor([3, 4, 0], [3]);
  for (const maxNorm of [0, -1]) assert.throws(() => clipGradNorm([p], maxNorm), new RegExp(`^clipGradNorm: maxNorm must be > 0, got ${maxNorm}$`));
  p.grad.dispose();
  p.dispose();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
