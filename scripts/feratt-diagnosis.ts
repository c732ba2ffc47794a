// Why a trained FERAtt classifies its own training composites well in training mode and badly in eval
// mode, measured on a checkpoint of CK+48's `cv` and its fold's training composites (the first epoch's
// backgrounds, without augmentation, shuffled into batches of 16):
//   - accuracy with each part's BatchNorms on batch or running statistics (attention_map, netclass);
//   - per BatchNorm of netclass: |running mean − population mean| in population standard deviations, and
//     running variance / population variance (population: the average of the batches' statistics);
//   - how much the attention logits, the attended face and the clean face vary;
//   - eval-mode accuracy on the composites and on the plain test faces after `--recalibrate-bn`'s
//     re-estimation (recalibrateBatchNorm: the classifier fed the attended composites only).
// node scripts/run.mjs scripts/feratt-diagnosis.ts CHECKPOINT.safetensors CKPLUS_FOLDER [FOLD] [FOLDS]
import { init } from '../src/engine/device.js';
import { noGrad } from '../src/engine/autograd.js';
import { tensor } from '../src/engine/tensor.js';
import { loadCheckpoint } from '../src/fer/checkpoint.js';
import { family } from '../src/fer/families.js';
import { ckplus48, subjectSplit, DataLoader, type Batch } from '../src/fer/data/index.js';
import { predictBatch } from '../src/fer/step.js';
import { evaluate } from '../src/fer/evaluate.js';
import { argmaxRows } from '../src/fer/metrics.js';
import { batchNorms, type BatchNorm2d } from '../src/nn/batchnorm.js';
import { recalibrateBatchNorm } from '../src/fer/recalibrate.js';
import { FERAtt, type FERAttResolvedConfig } from '../src/feratt/model.js';

const [file, folder, fold = '0', folds = '10'] = process.argv.slice(2);
if (!file || !folder) throw new Error('usage: feratt-diagnosis.ts CHECKPOINT.safetensors CKPLUS_FOLDER [FOLD] [FOLDS]');
await init();
const saved = await loadCheckpoint<{ model?: string; config: FERAttResolvedConfig }>(file);
if (saved.meta?.model !== 'feratt') throw new Error(`${file}: not a FERAtt checkpoint of ours`);
const model = new FERAtt(saved.meta.config);
model.loadStateDict(saved.model);
const { inChannels, inputSize, numClasses } = model.config;
const shape = [inChannels, inputSize[0], inputSize[1]] as const;
const all = ckplus48(folder, { channels: inChannels, size: inputSize, lastFrame: true });
const split = subjectSplit(all.samples, Number(folds), Number(fold));
const composites = family('feratt').trainingSet(split.train, { seed: 0, config: model.config, augment: false });
const batches: Batch[] = [];
for await (const b of new DataLoader(composites, { batchSize: 16, shape, shuffle: true, seed: 1, dropLast: true }).epoch(0)) batches.push(b);
const norms = batchNorms(model.netclass);

/** Runs `fn` with every BatchNorm of `which` at `momentum`, each one's own restored after. */
async function withMomentum<T>(which: BatchNorm2d[], momentum: number, fn: () => Promise<T>): Promise<T> {
  const saved = which.map((bn) => bn.momentum);
  for (const bn of which) bn.momentum = momentum;
  try {
    return await fn();
  } finally {
    which.forEach((bn, i) => (bn.momentum = saved[i]));
  }
}

/** Classifier accuracy (%) on the composites, with `setup` choosing each part's mode after eval(); the
 *  training-mode passes leave the running statistics alone. */
async function accuracy(setup: () => void): Promise<number> {
  model.eval();
  setup();
  return withMomentum(batchNorms(model), 0, async () => {
    let correct = 0;
    let n = 0;
    for (const b of batches) {
      const predicted = argmaxRows((await predictBatch(model, b)).logits, numClasses);
      predicted.forEach((p, i) => (correct += Number(p === b.y[i])));
      n += b.y.length;
    }
    return (100 * correct) / n;
  });
}

const pct = (v: number) => `${v.toFixed(1)}%`;
console.log(`${batches.length * 16} training composites of fold ${fold}; classifier accuracy with`);
console.log(`  running statistics everywhere (eval mode): ${pct(await accuracy(() => {}))}`);
console.log(`  batch statistics everywhere:                ${pct(await accuracy(() => model.train()))}`);
console.log(`  batch statistics in attention_map only:     ${pct(await accuracy(() => model.attentionMap.train()))}`);
console.log(`  batch statistics in netclass only:          ${pct(await accuracy(() => model.netclass.train()))}`);

// Each batch's statistics, read through a momentum of 1 (the running statistics become the batch's).
const running = await Promise.all(norms.map(async (bn) => [await bn.runningMean!.toArray(), await bn.runningVar!.toArray()]));
const perBatch: Float32Array[][][] = [];
model.eval();
model.netclass.train();
await withMomentum(norms, 1, async () => {
  for (const b of batches) {
    noGrad(() => model.forward(tensor(b.x, [b.y.length, ...shape])));
    perBatch.push(await Promise.all(norms.map(async (bn) => [await bn.runningMean!.toArray(), await bn.runningVar!.toArray()])));
  }
});
const names = [...model.netclass.namedModules()].filter(([, m]) => norms.includes(m as BatchNorm2d)).map(([name]) => name);
console.log('netclass BatchNorms: |running mean - population mean| / population sd, running var / population var (channel means)');
norms.forEach((_, k) => {
  const channels = running[k][0].length;
  let offset = 0;
  let ratio = 0;
  for (let c = 0; c < channels; c++) {
    const mu = perBatch.reduce((a, p) => a + p[k][0][c], 0) / perBatch.length;
    const variance = perBatch.reduce((a, p) => a + p[k][1][c], 0) / perBatch.length;
    offset += Math.abs(running[k][0][c] - mu) / Math.sqrt(variance);
    ratio += running[k][1][c] / variance;
  }
  console.log(`  netclass.${names[k]}: ${(offset / channels).toFixed(2)} sd, ${(ratio / channels).toFixed(2)}x`);
});

function spread(v: Float32Array): string {
  const m = v.reduce((a, x) => a + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / v.length);
  return `mean ${m.toPrecision(3)}, std ${sd.toPrecision(3)}`;
}
model.eval();
const first = batches[0];
const out = noGrad(() => model.forward(tensor(first.x, [first.y.length, ...shape])));
console.log(`one batch in eval mode: attention logits ${spread(await out.attention.toArray())}; attended face ${spread(await out.attended.toArray())}; ` +
  `clean face ${spread(first.clean!)}`);
for (const t of [out.z, out.logits, out.attended, out.attention, out.features]) t.dispose();

// What --recalibrate-bn does: every BatchNorm's statistics re-estimated on the fold's composites.
await recalibrateBatchNorm(model, split.train, { batchSize: 16, perPath: false, seed: 0 });
console.log(`statistics re-estimated (--recalibrate-bn): ${pct(await accuracy(() => {}))} on these composites, ` +
  `${pct(100 * (await evaluate(model, split.test, { batchSize: 32 })).main.accuracy)} on the fold's ${split.test.length} test faces`);
process.exit(0);
