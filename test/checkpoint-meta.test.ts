// Our checkpoints' `pcnn` metadata is checked on load (and on save): a config of null, one class name for
// seven classes or a config without a width used to fail in eval / predict as "Cannot read properties of
// undefined"; now the file, the field and what was expected are named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { loadSafetensors, saveSafetensors } from '../src/engine/io/safetensors.js';
import { loadCheckpoint, saveCheckpoint } from '../src/fer/checkpoint.js';
import { PCNN, type PCNNConfig } from '../src/pcnn/model.js';
import { encodePng, syntheticFace } from '../src/fer/data/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'pcnn-checkpoint-meta-'));
const config: Required<PCNNConfig> = { inChannels: 1, width: 1, numClasses: 7, inputSize: [32, 32], stnInit: 'identity', registration: 'stn' };
const classNames = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

/** A checkpoint of an untrained width-1 PCNN whose `pcnn` metadata is `meta`, written with the
 *  safetensors writer itself (saveCheckpoint refuses such metadata). */
async function withMeta(name: string, meta: unknown): Promise<string> {
  const valid = path.join(scratch, 'valid.safetensors');
  const model = new PCNN(config);
  await saveCheckpoint(valid, { model, meta: { config, classNames } });
  model.dispose();
  const { tensors, metadata } = await loadSafetensors(valid);
  const file = path.join(scratch, name);
  await saveSafetensors(file, tensors, { ...metadata, pcnn: JSON.stringify(meta) });
  return file;
}

/** The last line of the error output of a `pcnn` run that must fail (Dawn's warnings come before it). */
function refusal(...args: string[]): string {
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  assert.is(run.status, 1, `${args.join(' ')}: ${run.stderr}`);
  return run.stderr.trimEnd().split('\n').at(-1)!;
}

async function loadError(file: string): Promise<string> {
  try {
    await loadCheckpoint(file);
  } catch (error) {
    return (error as Error).message;
  }
  return assert.unreachable(`${file} should be refused`) as never;
}

test('loadCheckpoint names the file and the field of malformed pcnn metadata, and what was expected', async () => {
  const { width: _, ...noWidth } = config;
  const cases: [string, unknown, string][] = [
    ['array', [1], "metadata 'pcnn' must be an object, got [1]"],
    ['null-config', { config: null, classNames }, "metadata 'pcnn': config must be an object (the model configuration), got null"],
    ['no-config', { classNames }, "metadata 'pcnn': config must be an object (the model configuration), got nothing"],
    ['no-width', { config: noWidth, classNames }, "metadata 'pcnn': config.width must be a positive integer, got nothing"],
    ['string-classes', { config: { ...config, numClasses: '7' }, classNames }, 'config.numClasses must be a positive integer, got "7"'],
    ['input-size', { config: { ...config, inputSize: [32] }, classNames }, 'config.inputSize must be [height, width], two positive integers, got [32]'],
    ['stn', { config: { ...config, stnInit: 'zero' }, classNames }, 'config.stnInit must be one of identity, default, got "zero"'],
    ['one-class', { config, classNames: ['happy'] }, "metadata 'pcnn': classNames has 1 names (happy) for config.numClasses 7"],
    ['class-string', { config, classNames: 'angry,disgust' }, 'classNames must be a list of strings, got "angry,disgust"'],
    ['class-numbers', { config, classNames: [0, 1, 2, 3, 4, 5, 6] }, 'classNames must be a list of strings, got [0,1,2,3,4,5,6]'],
    ['no-classes', { config }, 'classNames must be a list of strings, got nothing'],
    ['epoch', { config, classNames, epoch: -1 }, 'epoch must be a non-negative integer, got -1'],
    ['history', { config, classNames, history: {} }, 'history must be a list of epoch records, got {}'],
  ];
  for (const [name, meta, expected] of cases) {
    const file = await withMeta(`${name}.safetensors`, meta);
    const message = await loadError(file);
    assert.ok(message.startsWith(`${file}: `) && message.includes(expected), `${name}: '${message}' should name the file and say '${expected}'`);
  }
  const good = await loadCheckpoint(await withMeta('good.safetensors', { config, classNames, epoch: 0, bestAccuracy: 0, history: [] }));
  assert.equal(good.meta, { config, classNames, epoch: 0, bestAccuracy: 0, history: [] });
});

test('saveCheckpoint refuses metadata that loadCheckpoint would refuse, naming the file', async () => {
  const model = new PCNN(config);
  const file = path.join(scratch, 'refused.safetensors');
  try {
    await saveCheckpoint(file, { model, meta: { config, classNames: ['happy'] } });
    assert.unreachable('saved');
  } catch (error) {
    assert.is((error as Error).message, `${file}: metadata 'pcnn': classNames has 1 names (happy) for config.numClasses 7`);
  } finally {
    model.dispose();
  }
});

test('pcnn predict and eval with a checkpoint of one class name for 7 classes: refused naming the file and the field', async () => {
  const file = await withMeta('one-class-cli.safetensors', { config, classNames: ['happy'], epoch: 1, bestAccuracy: 0, history: [], recipe: {} });
  const image = path.join(scratch, 'face.png');
  writeFileSync(image, encodePng(syntheticFace(0, 0, 32), 1, 32, 32));
  const expected = `${file}: metadata 'pcnn': classNames has 1 names (happy) for config.numClasses 7`;
  assert.is(refusal('predict', '--checkpoint', file, '--out', scratch, image), `pcnn predict: ${expected}`);
  assert.is(refusal('eval', '--checkpoint', file, '--synthetic-count', '8', '--out', scratch), `pcnn eval: ${expected}`);
});

test.run();
