// PCNN on this adapter beside PyTorch (Debian's python3-torch, bench/pytorch_pcnn.py) in one run, for
// RESULTS.md: dispatches per training step, train step ms (median of 7 after 3 warm-ups) at batch 64,
// inference ms at batch 64 and at batch 1 (eval mode, no grad, median of 21), then the same in PyTorch
// with its default threads and with as many threads as cores.
// node scripts/run.mjs bench/pcnn-vs-torch.ts [batch=64] [width=16] [size=48] [inferenceWidth=8] [--no-torch]
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { init } from '../src/engine/device.js';
import { recorder } from '../src/engine/recorder.js';
import { noGrad } from '../src/engine/autograd.js';
import { tidy } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { PCNN } from '../src/pcnn/model.js';
import { trainStep, predictBatch } from '../src/fer/step.js';
import { SGD } from '../src/optim/index.js';
import { manualSeed } from '../src/engine/random.js';
import { wallTimes } from './harness.js';

const args = process.argv.slice(2);
const [batch = 64, width = 16, size = 48, inferenceWidth = 8] = args.filter((a) => !a.startsWith('--')).map(Number);
const { adapter } = await init();

async function median(run: () => Promise<unknown>, warmup: number, reps: number): Promise<string> {
  const { median, min, max } = await wallTimes(run, warmup, reps);
  return `${median.toFixed(1)} ms [${min.toFixed(1)}-${max.toFixed(1)}]`;
}

function data(n: number) {
  return { x: Float32Array.from({ length: n * size * size }, (_, i) => Math.sin(i)), y: Int32Array.from({ length: n }, (_, i) => i % 7) };
}

manualSeed(0);
const model = new PCNN({ width, inputSize: [size, size] });
const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const batchData = data(batch);
await trainStep(model, optimizer, batchData);
const before = recorder.dispatchCount;
await trainStep(model, optimizer, batchData);
const dispatches = recorder.dispatchCount - before;
const train = await median(() => trainStep(model, optimizer, batchData), 3, 7);
model.eval();
const inferBatch = await median(() => predictBatch(model, batchData), 2, 7);
model.dispose();
optimizer.dispose();

const small = new PCNN({ width: inferenceWidth, inputSize: [size, size] }).eval();
const x1 = tensor(data(1).x, [1, 1, size, size]);
const once = async () => {
  const out = noGrad(() => tidy(() => small.forward(x1).out));
  await out.toArray();
  out.dispose();
};
await once(); // compiles, folds the batch norms
const before1 = recorder.dispatchCount;
await once();
const dispatches1 = recorder.dispatchCount - before1;
const infer1 = await median(once, 5, 21);

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`${adapter.vendor} / ${adapter.device}, ${cpus().length} cores, load average ${load}`);
console.log(`ours  ${size}x${size} gray w${width} b${batch}: ${dispatches} dispatches per training step; train step ${train}; inference b${batch} ${inferBatch}`);
console.log(`ours  ${size}x${size} gray w${inferenceWidth} b1: ${dispatches1} dispatches per call; inference ${infer1}`);
for (const threads of args.includes('--no-torch') ? [] : [[], [String(cpus().length)]]) {
  const torch = (args: number[]) => JSON.parse(execFileSync('/usr/bin/python3', ['bench/pytorch_pcnn.py', ...args.map(String), ...threads], { encoding: 'utf8' }));
  const ms = ([m, lo, hi]: number[]) => `${m.toFixed(1)} ms [${lo.toFixed(1)}-${hi.toFixed(1)}]`;
  const big = torch([batch, width, size]);
  const tiny = torch([batch, inferenceWidth, size]);
  console.log(
    `torch ${big.torch}, ${big.threads} thread(s): w${width} b${batch} train step ${ms(big.trainStepMs)}; inference b${batch} ${ms(big[`inferenceBatch${batch}Ms`])}; ` +
      `w${inferenceWidth} b1 inference ${ms(tiny.inferenceBatch1Ms)}`,
  );
}
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
process.exit(0);
