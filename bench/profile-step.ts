// Profiles one PCNN training step by kernel: GPU time per kernel (timestamp queries), summed by name.
// node scripts/run.mjs bench/profile-step.ts [batch] [width] [size]
import { init } from '../src/engine/device.js';
import { timeKernels } from '../src/engine/recorder.js';
import { PCNN } from '../src/pcnn/model.js';
import { trainStep } from '../src/fer/step.js';
import { SGD } from '../src/optim/index.js';
import { manualSeed } from '../src/engine/random.js';

const [batch = 64, width = 16, size = 48] = process.argv.slice(2).map(Number);
await init();
manualSeed(0);
const model = new PCNN({ width, inputSize: [size, size] });
const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const x = Float32Array.from({ length: batch * size * size }, (_, i) => Math.sin(i));
const y = Int32Array.from({ length: batch }, (_, i) => i % 7);
for (let i = 0; i < 2; i++) await trainStep(model, optimizer, { x, y });
const t0 = performance.now();
await trainStep(model, optimizer, { x, y });
const wall = performance.now() - t0;
let pending!: Promise<unknown>;
const timed = await timeKernels(() => {
  pending = trainStep(model, optimizer, { x, y });
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
console.log(`step wall ${wall.toFixed(0)} ms; GPU sum ${(total / 1e6).toFixed(0)} ms over ${timed.length} dispatches`);
for (const [label, { ns, count }] of [...byKernel].sort((a, b) => b[1].ns - a[1].ns).slice(0, 30)) {
  console.log(`${(ns / 1e6).toFixed(1).padStart(8)} ms ${String(count).padStart(4)}x  ${label}`);
}
process.exit(0);
