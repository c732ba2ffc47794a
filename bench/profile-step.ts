// Profiles one training step by kernel: GPU time per kernel (timestamp queries), summed by name.
// node scripts/run.mjs bench/profile-step.ts [batch] [width] [size] [model]   (model: pcnn (default),
// feratt (3 channels, a clean face beside each input, as its training step) or arpgnet (clips of its T)).
// TOP=N lists the N costliest kernels (default 30); with DEBUG=1 each kernel's label carries its shapes.
import { init } from '../src/engine/device.js';
import { timeKernels } from '../src/engine/recorder.js';
import { trainStep } from '../src/fer/step.js';
import { family, inputShape } from '../src/fer/families.js';
import { manualSeed } from '../src/engine/random.js';

const args = process.argv.slice(2);
const [batch = 64, width = 16, size = 48] = args.slice(0, 3).map(Number);
const name = args[3] ?? 'pcnn';
await init();
manualSeed(0);
const models = family(name);
const inChannels = name === 'feratt' ? 3 : 1;
const model = models.create(models.configFromOptions({ inputSize: size, inChannels, width, classes: 7 }));
const optimizer = models.optimizer(model, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const count = inputShape(model, batch).reduce((a, b) => a * b, 1);
const x = Float32Array.from({ length: count }, (_, i) => Math.sin(i));
const y = Int32Array.from({ length: batch }, (_, i) => i % 7);
const step = { x, y, ...(name === 'feratt' ? { clean: x.map((v) => 0.5 * v) } : {}) };
for (let i = 0; i < 2; i++) await trainStep(model, optimizer, step);
const t0 = performance.now();
await trainStep(model, optimizer, step);
const wall = performance.now() - t0;
let pending!: Promise<unknown>;
const timed = await timeKernels(() => {
  pending = trainStep(model, optimizer, step);
});
await pending;
if (!timed) throw new Error('profile-step: this adapter has no timestamp queries');
const byKernel = new Map<string, { ns: number; count: number }>();
for (const { label, ns } of timed) {
  const entry = byKernel.get(label) ?? { ns: 0, count: 0 };
  entry.ns += ns;
  entry.count++;
  byKernel.set(label, entry);
}
const total = timed.reduce((a, d) => a + d.ns, 0);
console.log(`${name} b${batch} w${width} ${size}x${size}: step wall ${wall.toFixed(0)} ms; GPU sum ${(total / 1e6).toFixed(0)} ms over ${timed.length} dispatches`);
for (const [label, { ns, count }] of [...byKernel].sort((a, b) => b[1].ns - a[1].ns).slice(0, Number(process.env.TOP ?? 30))) {
  console.log(`${(ns / 1e6).toFixed(1).padStart(8)} ms ${String(count).padStart(4)}x  ${label}`);
}
process.exit(0);
