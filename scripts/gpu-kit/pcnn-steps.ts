// The GPU kit's PCNN stage: training steps and inference at the two configurations issue 17 asks of a
// GPU (48 px gray, width 16, batch 64; 224 px RGB, width 64, batch 32), written to the JSON file named
// by the first argument. node pcnn-steps.mjs OUT.json [REPS]
import { writeFileSync } from 'node:fs';
import { init, release } from '../../src/engine/device.js';
import { runPcnn, type PcnnConfig } from '../../bench/pcnn.js';

const GPU_CONFIGS: PcnnConfig[] = [
  { name: '48 gray / w16 / b64', size: 48, channels: 1, width: 16, batch: 64 },
  { name: '224 rgb / w64 / b32', size: 224, channels: 3, width: 64, batch: 32 },
];

const [out, repsText = '5'] = process.argv.slice(2);
const reps = Number(repsText);
if (!out || !Number.isInteger(reps) || reps < 1) {
  console.error('usage: node pcnn-steps.mjs OUT.json [REPS, a positive integer]');
  process.exit(2);
}
await init();
const results = [];
for (const config of GPU_CONFIGS) {
  const result = await runPcnn(config, reps);
  const ms = result.train.wallMs;
  console.log(
    `PCNN ${config.name}: train step ${ms.median.toFixed(1)} ms [${ms.min.toFixed(1)}-${ms.max.toFixed(1)}] ` +
      `(${result.trainImagesPerS.median.toFixed(0)} img/s), inference ${result.inference.wallMs.median.toFixed(1)} ms per batch, ` +
      `peak ${(result.peakTrainBytes / 2 ** 20).toFixed(0)} MiB training`,
  );
  results.push(result);
}
writeFileSync(out, JSON.stringify(results, null, 2));
release();
process.exit(0);
