// Adapter limits and device loss: tensors larger than one storage binding are refused before any
// dispatch (directly and as an op's output), workgroup counts past the per-dimension limit are folded
// by workgroups1d or refused by the recorder, and a device lost in the middle of training ends the run
// with an error saying so, leaving the last checkpoint of a completed epoch loadable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './helpers/index.js';
import { init, gpu, release, empty, tensor, tidy, matmul, conv2d, pool, PCNN } from '../src/index.js';
import { Kernel } from '../src/engine/kernel.js';
import { dispatch, recorder, workgroups1d } from '../src/engine/recorder.js';
import { train } from '../src/fer/train.js';
import { resolveData } from '../src/fer/datasets.js';
import { loadCheckpoint } from '../src/fer/checkpoint.js';

const CHILD_ENV = 'PCNN_LIMITS_DEVICE_LOSS_OUT';
const CHILD_TIMEOUT_MS = 180_000;

/**
 * The device-loss scenario, run in a child process (the suite shares one device per process, and
 * tensors other test files made at load time would die with it): trains width 1 at 32 px for 3 epochs,
 * destroys the device once the first checkpoint is on disk, then checks that a new device works.
 */
async function deviceLossChild(out: string): Promise<void> {
  const data = resolveData({ data: 'synthetic', inputSize: 32, inChannels: 1, seed: 7, syntheticCount: 48 });
  const madeBefore = tensor([5, 6]);
  const last = path.join(out, 'last.safetensors');
  const poll = setInterval(() => {
    if (!existsSync(last)) return;
    clearInterval(poll);
    gpu().device.destroy();
  }, 10);
  let error = '';
  try {
    await train(
      {
        model: { name: 'pcnn', config: { inChannels: 1, width: 1, numClasses: 7, inputSize: [32, 32], stnInit: 'identity', registration: 'stn' } },
        batch: 8, epochs: 3, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, stepSize: 1, gamma: 0.1, alpha: 12, beta: 8,
        seed: 7, augment: true, out, resume: false, quiet: true,
      },
      data,
    );
  } catch (e) {
    error = (e as Error).message;
  }
  clearInterval(poll);
  release();
  await init();
  let staleError = '';
  try {
    matmul(madeBefore.view([1, 2]), madeBefore.view([2, 1]));
  } catch (e) {
    staleError = (e as Error).message;
  }
  // A kernel the training used: its pipelines and bind groups of the old device must not be reused.
  const after = Array.from(await matmul(tensor([1, 2, 3], [1, 3]), tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3])).toArray());
  console.log(JSON.stringify({ error, after, staleError }));
  release();
}

if (process.env[CHILD_ENV]) {
  await deviceLossChild(process.env[CHILD_ENV]);
  process.exit(0);
}

const MAX_BINDING = () => gpu().limits.maxStorageBufferBindingSize;

/** Runs `fn`, which must throw matching `message`, and checks that it dispatched nothing and left the pool as it was. */
function refusedBeforeDispatch(fn: () => unknown, message: RegExp, what: string): void {
  tidy(() => {
    const dispatches = recorder.dispatchCount;
    const inUse = pool.memory().bytesInUse;
    assert.throws(fn, message, what);
    assert.is(recorder.dispatchCount, dispatches, `${what}: nothing dispatched`);
    assert.is(pool.memory().bytesInUse, inUse, `${what}: no buffer left held`);
  });
}

test('a tensor larger than one storage binding is refused, by empty and as an op output, before any dispatch', () => {
  const max = MAX_BINDING();
  const side = Math.ceil(Math.sqrt(max / 4)) + 8; // side² floats just over the limit
  refusedBeforeDispatch(
    () => empty([side, side]),
    new RegExp(`empty \\[${side},${side}\\]: needs a buffer of ${side * side * 4} bytes, more than this adapter allows in one binding \\(maxStorageBufferBindingSize ${max}\\)`),
    'empty',
  );
  const a = empty([side, 1]);
  const b = empty([1, side]);
  refusedBeforeDispatch(() => matmul(a, b), new RegExp(`matmul.*\\[${side},${side}\\].*maxStorageBufferBindingSize ${max}`), 'matmul [side, 1] x [1, side]');
  const x = empty([1, 1, 64, 64]);
  const channels = Math.ceil(max / 4 / (64 * 64)) + 1;
  const w = empty([channels, 1, 1, 1]);
  refusedBeforeDispatch(() => conv2d(x, w), new RegExp(`conv2d.*\\[1,${channels},64,64\\].*maxStorageBufferBindingSize ${max}`), '1x1 conv to many channels');
  for (const t of [a, b, x, w]) t.dispose();
});

// Writes 1 at its linear workgroup index (one invocation per workgroup): shows which workgroups ran.
const markSource = /* wgsl */ `
// Marks: out[wid.x + wid.y * nwg.x] = 1 for every workgroup of a (possibly folded) 1-D grid of
// one-invocation workgroups; indices at or past count (the fold's padding) write nothing.
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = wid.x + wid.y * nwg.x;
  if (index < params.count) { out[index] = 1.0; }
}
`;
const markKernel = new Kernel('limits_mark', markSource);

test('workgroups past maxComputeWorkgroupsPerDimension: folded by workgroups1d, refused by the recorder', async () => {
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  const count = limit + 4465; // 70000 on a 65535 limit
  const grid = workgroups1d(count);
  assert.ok(grid[0] <= limit && grid[1] > 1 && grid[0] * grid[1] >= count, `folded into [${grid}]`);
  const out = tensor(new Float32Array(count + 1));
  dispatch(markKernel, { workgroups: grid, buffers: { out }, uniforms: { count } });
  const marks = await out.toArray();
  assert.is(marks.subarray(0, count).reduce((s, v) => s + v, 0), count, 'every workgroup ran once');
  assert.is(marks[count], 0, 'none past the end');
  const before = recorder.dispatchCount;
  assert.throws(
    () => dispatch(markKernel, { workgroups: [count, 1, 1], buffers: { out }, uniforms: { count } }),
    new RegExp(`kernel limits_mark: workgroup counts \\[${count},1,1\\] outside 0\\.\\.${limit}`),
  );
  assert.throws(() => dispatch(markKernel, { workgroups: [2.5, 1, 1], buffers: { out }, uniforms: { count } }), /workgroup counts \[2\.5,1,1\]/);
  assert.is(recorder.dispatchCount, before, 'the refused dispatches were not recorded');
  out.dispose();
});

/** Runs this test file's bundle as a child in device-loss mode; resolves to what it printed. */
function runChild(out: string): Promise<{ error: string; after: number[]; staleError: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      cwd: repoRoot,
      env: { ...process.env, [CHILD_ENV]: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // A run that keeps going on a lost device would never end: that is a failure, not a hang.
    const watchdog = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (signal === 'SIGKILL') return reject(new Error(`device-loss child did not finish in ${CHILD_TIMEOUT_MS / 1000} s:\n${stderr}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`device-loss child exited with ${code}:\n${stdout}\n${stderr}`));
      else resolve(JSON.parse(line));
    });
  });
}

test('device lost mid-training: the run ends with an error saying so, the last checkpoint loads, a new device works', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'pcnn-device-loss-'));
  try {
    const { error, after, staleError } = await runChild(out);
    assert.match(error, /the WebGPU device was lost \(destroyed/);
    assert.is(staleError, 'tensor of shape [1,2] was made on a device that release() destroyed; make it again after init()');
    assert.equal(after, [1, 2, 3], 'release() + init() gave a working device, not poisoned by the stale tensor');
    const saved = await loadCheckpoint<{ epoch: number; history: unknown[] }>(path.join(out, 'last.safetensors'));
    assert.ok(saved.meta && saved.meta.epoch >= 1 && saved.meta.epoch < 3, `interrupted after a completed epoch (${saved.meta?.epoch})`);
    assert.is(saved.meta!.history.length, saved.meta!.epoch, 'one history record per completed epoch');
    const model = new PCNN({ width: 1, inputSize: [32, 32] });
    model.loadStateDict(saved.model);
    model.dispose();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
