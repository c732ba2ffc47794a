// Two trainings into one output folder would leave `last` from one and `best` from the other (issue 18):
// train holds the folder with a lock file naming its process, refuses a folder whose process is alive,
// takes over the lock of one that has ended, and releases it at the end, also after an error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import './helpers/index.js';
import { train, LOCK_FILE, type TrainOptions } from '../src/fer/train.js';
import type { PCNNConfig } from '../src/pcnn/model.js';
import { syntheticDataset } from '../src/fer/data/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-lock-'));
const data = { train: syntheticDataset({ count: 8, size: 32 }), test: syntheticDataset({ count: 4, size: 32, seed: 1 }), classNames: syntheticDataset({ count: 0 }).classNames };

function options(out: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  const model: Required<PCNNConfig> = { inChannels: 1, width: 1, numClasses: 7, inputSize: [32, 32], stnInit: 'identity', registration: 'stn' };
  return {
    model: { name: 'pcnn', config: model }, batch: 4, epochs: 1, lr: 0.01, momentum: 0.9, weightDecay: 0, stepSize: 10, gamma: 0.5, alpha: 12, beta: 8, seed: 0,
    augment: false, out, resume: false, quiet: true, ...overrides,
  };
}

async function errorOf(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

/** The pid of a process that has ended. */
function endedPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('a folder in use by a live process is refused, naming the process; nothing is written there', async () => {
  const out = path.join(dir, 'busy');
  mkdirSync(out);
  writeFileSync(path.join(out, LOCK_FILE), `${process.ppid}\n`);
  const message = await errorOf(train(options(out), data));
  assert.match(message, new RegExp(`^${out.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')} is in use by process ${process.ppid} \\(.*${LOCK_FILE}\\): .*use another --out`));
  assert.not.ok(existsSync(path.join(out, 'last.safetensors')));
  assert.is(readFileSync(path.join(out, LOCK_FILE), 'utf8'), `${process.ppid}\n`, 'the other process keeps its lock');
});

test('the lock of an ended process is taken over; the lock is released at the end of training', async () => {
  const out = path.join(dir, 'stale');
  mkdirSync(out);
  writeFileSync(path.join(out, LOCK_FILE), `${endedPid()}\n`);
  const result = await train(options(out), data);
  result.model.dispose();
  assert.ok(existsSync(path.join(out, 'last.safetensors')));
  assert.not.ok(existsSync(path.join(out, LOCK_FILE)), 'released');
});

test('the lock is released when training fails', async () => {
  const out = path.join(dir, 'failing');
  const message = await errorOf(train(options(out, { initFrom: path.join(dir, 'missing.safetensors') }), data));
  assert.match(message, /missing\.safetensors/);
  assert.not.ok(existsSync(path.join(out, LOCK_FILE)), 'released after the error');
  const again = await train(options(out), data);
  again.model.dispose();
});

test('two trainings into one folder at once: the second is refused, naming this process', async () => {
  const out = path.join(dir, 'twice');
  const first = train(options(out), data);
  const second = await errorOf(train(options(out), data));
  assert.match(second, new RegExp(`is in use by process ${process.pid} `));
  (await first).model.dispose();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
