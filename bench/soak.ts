/**
 * Soak test: many training steps of a small PCNN through the same path as `pcnn train` (DataLoader over
 * synthetic faces with the paper's augmentation, SGD with momentum and weight decay, one step in flight),
 * sampling the buffer pool (`pool.memory()`) and host memory (`process.memoryUsage()`) every `--every`
 * steps. After warm-up (the first sample: pipelines compiled, momentum buffers made), a step that leaks
 * shows up as growth: the pool must not move at all (same shapes every step, so the same buffers), host
 * memory only within noise once warm (the garbage collector runs when it likes; `node --expose-gc` makes
 * it run before each sample, which tightens the figures).
 *
 *   node scripts/run.mjs bench/soak.ts [--steps 2000] [--every 100] [--warmup 200] [--width 2] [--size 32] [--batch 16]
 */
import { init, release } from '../src/engine/device.js';
import { pool } from '../src/engine/pool.js';
import { recorder } from '../src/engine/recorder.js';
import { manualSeed } from '../src/engine/random.js';
import { SGD } from '../src/optim/sgd.js';
import { PCNN } from '../src/pcnn/model.js';
import { trainStep, type StepResult } from '../src/fer/step.js';
import { DataLoader, augment, syntheticDataset } from '../src/fer/data/index.js';

interface Sample {
  step: number;
  seconds: number;
  loss: number;
  poolInUse: number;
  poolAllocated: number;
  buffersInUse: number;
  rss: number;
  heapUsed: number;
}

/** Host growth below this after warm-up is noise (V8's heap and the allocator's arenas move by a few MiB). */
const HOST_NOISE_BYTES = 16 * 2 ** 20;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`soak: --${name} needs a positive integer, got '${process.argv[at + 1]}'`);
  return value;
}

const steps = option('steps', 2000);
const every = option('every', 100);
const width = option('width', 2);
const size = option('size', 32);
const batchSize = option('batch', 16);
/** Steps after which host memory should have settled (pipelines compiled, driver caches filled). */
const warmupSteps = option('warmup', 200);

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

function sample(step: number, started: number, loss: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const { bytesInUse, bytesAllocated, buffersInUse } = pool.memory();
  const { rss, heapUsed } = process.memoryUsage();
  return { step, seconds: (performance.now() - started) / 1000, loss, poolInUse: bytesInUse, poolAllocated: bytesAllocated, buffersInUse, rss, heapUsed };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * Pool: exactly constant from the first sample on. Host: the median of the last quarter of the samples
 * past `warmupSteps` against the median of their first quarter (rss moves by tens of MiB from sample to
 * sample; a leak shows up as a shift between the two, a single high sample does not).
 */
function verdict(samples: Sample[], warmupSteps: number): string[] {
  const [base, ...rest] = samples;
  const settled = samples.filter((s) => s.step > warmupSteps);
  if (!rest.length || settled.length < 4) return ['too few samples for a verdict (raise --steps or lower --every)'];
  const findings: string[] = [];
  for (const key of ['poolInUse', 'poolAllocated', 'buffersInUse'] as const) {
    const moved = rest.find((s) => s[key] !== base[key]);
    if (moved) findings.push(`pool ${key} moved after warm-up: ${base[key]} at step ${base.step}, ${moved[key]} at step ${moved.step}`);
  }
  const quarter = Math.max(1, Math.floor(settled.length / 4));
  for (const key of ['rss', 'heapUsed'] as const) {
    const early = median(settled.slice(0, quarter).map((s) => s[key]));
    const late = median(settled.slice(-quarter).map((s) => s[key]));
    if (late - early > HOST_NOISE_BYTES) {
      findings.push(`host ${key}: median ${mib(early)} MiB over the first quarter after step ${warmupSteps}, ${mib(late)} MiB over the last (noise allowance ${mib(HOST_NOISE_BYTES)} MiB)`);
    }
  }
  return findings;
}

const device = await init();
manualSeed(1);
const model = new PCNN({ inChannels: 1, width, numClasses: 7, inputSize: [size, size] });
const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const data = syntheticDataset({ count: 50 * batchSize, size, channels: 1, seed: 3 });
const loader = new DataLoader(data, { batchSize, shape: [1, size, size], seed: 5, transform: (image, s, g) => augment(image, s, g) });
model.train();

console.log(`soak: PCNN width ${width}, ${size}x${size} gray, batch ${batchSize}, ${steps} steps; adapter ${device.adapter.vendor} ${device.adapter.architecture} ${device.adapter.device}`);
const samples: Sample[] = [];
const started = performance.now();
let step = 0;
let inFlight: Promise<StepResult> | null = null;
let loss = NaN;
outer: for (let epoch = 0; ; epoch++) {
  for await (const batch of loader.epoch(epoch)) {
    const result = trainStep(model, optimizer, batch);
    if (inFlight) loss = (await inFlight).loss;
    inFlight = result;
    step++;
    if (step % every === 0) {
      loss = (await inFlight).loss;
      inFlight = null;
      samples.push(sample(step, started, loss));
      const s = samples[samples.length - 1];
      console.log(
        `${String(s.step).padStart(6)} ${s.seconds.toFixed(1).padStart(8)} s  loss ${s.loss.toFixed(4)}  pool ${mib(s.poolInUse)}/${mib(s.poolAllocated)} MiB ` +
          `(${s.buffersInUse} buffers)  rss ${mib(s.rss)} MiB  heap ${mib(s.heapUsed)} MiB`,
      );
    }
    if (step >= steps) break outer;
  }
}
if (inFlight) await inFlight;

console.log('\n| step | s | loss | pool in use MiB | pool allocated MiB | buffers in use | rss MiB | heapUsed MiB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const s of samples) {
  console.log(`| ${s.step} | ${s.seconds.toFixed(1)} | ${s.loss.toFixed(4)} | ${mib(s.poolInUse)} | ${mib(s.poolAllocated)} | ${s.buffersInUse} | ${mib(s.rss)} | ${mib(s.heapUsed)} |`);
}
const findings = verdict(samples, warmupSteps);
const perStep = samples.length ? (samples[samples.length - 1].seconds / samples[samples.length - 1].step) * 1000 : NaN;
console.log(`\n${recorder.dispatchCount} dispatches, ${recorder.submitCount} submits, ${perStep.toFixed(0)} ms per step; gc ${'gc' in globalThis ? 'forced before each sample' : 'not exposed'}`);
console.log(findings.length ? `verdict: GROWTH\n- ${findings.join('\n- ')}` : `verdict: flat (pool exactly constant from step ${samples[0]?.step}, host within ${mib(HOST_NOISE_BYTES)} MiB after step ${warmupSteps})`);
release();
process.exitCode = findings.length ? 1 : 0;
