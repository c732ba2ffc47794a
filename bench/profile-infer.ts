// Profiles PCNN inference (eval mode, no grad, BN folded) at a small batch: wall time split into host
// recording (the forward's calls, up to the submit) and the wait for the readback, dispatch count, and
// GPU time per kernel (timestamp queries).
// node scripts/run.mjs bench/profile-infer.ts [batch=1] [width=8] [size=48] [repeats=20]
import { init } from '../src/engine/device.js';
import { recorder, timeKernels, flush } from '../src/engine/recorder.js';
import { noGrad } from '../src/engine/autograd.js';
import { tidy } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { PCNN } from '../src/pcnn/model.js';
import { manualSeed } from '../src/engine/random.js';

const [batch = 1, width = 8, size = 48, repeats = 20] = process.argv.slice(2).map(Number);
await init();
manualSeed(0);
const model = new PCNN({ width, inputSize: [size, size] });
model.eval();
const x = tensor(Float32Array.from({ length: batch * size * size }, (_, i) => Math.sin(i)), [batch, 1, size, size]);
const forward = () => noGrad(() => tidy(() => model.forward(x).out));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const [host, total, dispatches] = [[], [], []] as number[][];
for (let i = 0; i <= repeats; i++) {
  const d0 = recorder.dispatchCount;
  const t0 = performance.now();
  const out = forward();
  flush();
  const t1 = performance.now();
  await out.toArray();
  const t2 = performance.now();
  out.dispose();
  if (i === 0) continue; // pipelines compile
  host.push(t1 - t0);
  total.push(t2 - t0);
  dispatches.push(recorder.dispatchCount - d0);
}
let out!: ReturnType<typeof forward>;
const timed = await timeKernels(() => {
  out = forward();
});
await out.toArray();
out.dispose();
console.log(
  `PCNN ${size}x${size} w${width} batch ${batch}: inference ${median(total).toFixed(1)} ms (median of ${repeats}; min ${Math.min(...total).toFixed(1)}), ` +
    `host recording ${median(host).toFixed(1)} ms, ${dispatches[0]} dispatches`,
);
if (timed) {
  const byKernel = new Map<string, { ns: number; count: number }>();
  for (const { label, ns } of timed) {
    const e = byKernel.get(label) ?? { ns: 0, count: 0 };
    e.ns += ns;
    e.count++;
    byKernel.set(label, e);
  }
  console.log(`GPU sum ${(timed.reduce((a, d) => a + d.ns, 0) / 1e6).toFixed(1)} ms over ${timed.length} dispatches (each timed in its own pass)`);
  for (const [label, { ns, count }] of [...byKernel].sort((a, b) => b[1].ns - a[1].ns).slice(0, 20)) {
    console.log(`${(ns / 1e6).toFixed(2).padStart(8)} ms ${String(count).padStart(4)}x  ${label}`);
  }
}
process.exit(0);
