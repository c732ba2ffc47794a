// A/B of one field of the conv2d tuning (src/kernels/conv2d/tuning.ts) on PCNN's training step: two
// values in one process, alternating round by round (this machine's speed drifts within minutes), each
// round a warm-up step then 2 timed ones; prints the median wall and process CPU ms per step of each.
// CPU time counts lavapipe's workers too, so it shows work saved where idle time hides it in the wall time.
// node scripts/run.mjs bench/step-ab.ts FIELD A B [rounds=14] [batch=64] [width=16] [size=48]
// e.g. bench/step-ab.ts rowsBelowWidthWeightGrad Infinity 8   (A and B: numbers, Infinity, true, false)
import { init } from '../src/engine/device.js';
import { PCNN } from '../src/pcnn/model.js';
import { trainStep } from '../src/fer/step.js';
import { SGD } from '../src/optim/index.js';
import { manualSeed } from '../src/engine/random.js';
import { conv2dTuning } from '../src/kernels/conv2d/tuning.js';
import { stats } from './harness.js';

const [field, a, b, ...rest] = process.argv.slice(2);
const [rounds = 14, batch = 64, width = 16, size = 48] = rest.map(Number);
const { adapter } = await init();
const tuning = conv2dTuning() as unknown as Record<string, unknown>;
function parseValue(text: string | undefined): number | boolean {
  const value = text === 'true' ? true : text === 'false' ? false : Number(text);
  if (typeof value !== typeof tuning[field] || Number.isNaN(value)) {
    throw new Error(`step-ab: '${text}' is no value for ${field} (a ${typeof tuning[field]}; fields: ${Object.keys(tuning).join(', ')})`);
  }
  return value;
}
const values = [parseValue(a), parseValue(b)];
if (values[0] === values[1]) throw new Error(`step-ab: A and B are both ${values[0]}; give two different values of ${field}`);
manualSeed(0);
const model = new PCNN({ width, inputSize: [size, size] });
const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
const data = { x: Float32Array.from({ length: batch * size * size }, (_, i) => Math.sin(i)), y: Int32Array.from({ length: batch }, (_, i) => i % 7) };
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e3;
};

const original = tuning[field];
const times = new Map<number | boolean, { wall: number[]; cpu: number[] }>(values.map((v) => [v, { wall: [], cpu: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const [value, { wall, cpu }] of times) {
    tuning[field] = value;
    await trainStep(model, optimizer, data);
    const [wall0, cpu0] = [performance.now(), cpuMs()];
    for (let i = 0; i < 2; i++) await trainStep(model, optimizer, data);
    wall.push((performance.now() - wall0) / 2);
    cpu.push((cpuMs() - cpu0) / 2);
  }
}
tuning[field] = original;
console.log(`${adapter.vendor} / ${adapter.device}: PCNN ${size}x${size} gray, width ${width}, batch ${batch}, ${rounds} rounds`);
for (const [value, { wall, cpu }] of times) {
  const w = stats(wall);
  console.log(`${field} = ${value}: train step ${w.median.toFixed(0)} ms [${w.min.toFixed(0)}-${w.max.toFixed(0)}], CPU ${stats(cpu).median.toFixed(0)} ms per step`);
}
process.exit(0);
