// PCNN training-step and inference time, median of 7 after 3 warm-up steps, on whatever adapter init()
// finds; for a quick figure on a quiet machine (the full suite is bench/index.ts).
// node scripts/run.mjs bench/step-time.ts [batch=64] [width=16] [size=48]
import { init } from '../src/engine/device.js';
import { PCNN } from '../src/pcnn/model.js';
import { trainStep, predictBatch } from '../src/fer/step.js';
import { SGD } from '../src/optim/index.js';
import { manualSeed } from '../src/engine/random.js';
import { wallTimes } from './harness.js';

const [batch = 64, width = 16, size = 48] = process.argv.slice(2).map(Number);
const { adapter } = await init();
manualSeed(0);
const model = new PCNN({ width, inputSize: [size, size] });
const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const data = { x: Float32Array.from({ length: batch * size * size }, (_, i) => Math.sin(i)), y: Int32Array.from({ length: batch }, (_, i) => i % 7) };

const { median: train, min: trainMin, max: trainMax } = await wallTimes(() => trainStep(model, optimizer, data), 3, 7);
model.eval();
const { median: infer } = await wallTimes(() => predictBatch(model, data), 2, 7);
console.log(
  `${adapter.vendor} / ${adapter.architecture} / ${adapter.device}: PCNN ${size}x${size} gray, width ${width}, batch ${batch}: ` +
    `train step ${train.toFixed(0)} ms [${trainMin.toFixed(0)}-${trainMax.toFixed(0)}] (${((1000 * batch) / train).toFixed(0)} img/s), ` +
    `inference ${infer.toFixed(0)} ms per batch (${((1000 * batch) / infer).toFixed(0)} img/s)`,
);
process.exit(0);
