/**
 * Does an evaluation set hold images that a pretraining set also holds? For every evaluation image, and
 * its mirror image, the most similar pretraining image by Pearson correlation of pixels (1 = the same image
 * up to brightness and contrast), computed with the engine's matmul.
 *
 *   node scripts/run.mjs scripts/near-duplicates.ts PRETRAINING_DATA EVALUATION_DATA [THRESHOLD]
 *
 * Both are `--data` values; the pretraining set's training images are compared with all the evaluation
 * set's images. Prints the distribution of best correlations and every pair above THRESHOLD (0.95).
 */
import { init, release } from '../src/engine/device.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { linear } from '../src/kernels/matmul/index.js';
import { resolveData } from '../src/fer/datasets.js';
import { hflip, type Dataset, type Sample } from '../src/fer/data/index.js';

const [pretrainingData, evaluationData, thresholdText = '0.95'] = process.argv.slice(2);
if (!pretrainingData || !evaluationData) {
  console.error('usage: node scripts/run.mjs scripts/near-duplicates.ts PRETRAINING_DATA EVALUATION_DATA [THRESHOLD]');
  process.exit(2);
}
const threshold = Number(thresholdText);
const SIZE = 48;
const CHUNK = 4096;

/** Rows of unit length after removing the mean: their dot products are correlations. */
function standardized(images: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(images.length * SIZE * SIZE);
  images.forEach((image, row) => {
    const mean = image.reduce((a, b) => a + b, 0) / image.length;
    const norm = Math.sqrt(image.reduce((a, b) => a + (b - mean) ** 2, 0)) || 1; // a blank image correlates with nothing
    for (let i = 0; i < image.length; i++) out[row * image.length + i] = (image[i] - mean) / norm;
  });
  return out;
}

const load = (data: string) => resolveData({ data, inputSize: SIZE, inChannels: 1, seed: 0 });
const samples = (d: Dataset): Sample[] => ('get' in d ? Array.from({ length: d.length }, (_, i) => d.get(i)) : [...d]);
const pretraining = samples(load(pretrainingData).train);
const evaluationSet = load(evaluationData);
const evaluation = [...samples(evaluationSet.train), ...samples(evaluationSet.test)];
await init();
const queries = [...evaluation.map((s) => s.image), ...evaluation.map((s) => hflip(s.image, [1, SIZE, SIZE]))];
const queryRows = tensor(standardized(queries), [queries.length, SIZE * SIZE]);
const best = new Float32Array(queries.length).fill(-2);
const bestIndex = new Int32Array(queries.length);
for (let start = 0; start < pretraining.length; start += CHUNK) {
  const chunk = pretraining.slice(start, start + CHUNK);
  const keys = tensor(standardized(chunk.map((s) => s.image)), [chunk.length, SIZE * SIZE]);
  const similarity = noGrad(() => tidy(() => linear(queryRows, keys)));
  const values = await similarity.toArray();
  similarity.dispose();
  keys.dispose();
  for (let q = 0; q < queries.length; q++) {
    for (let k = 0; k < chunk.length; k++) {
      const v = values[q * chunk.length + k];
      if (v > best[q]) {
        best[q] = v;
        bestIndex[q] = start + k;
      }
    }
  }
}
queryRows.dispose();

const n = evaluation.length;
const perImage = Array.from({ length: n }, (_, i) => (best[i] >= best[n + i] ? { value: best[i], index: bestIndex[i], mirrored: false } : { value: best[n + i], index: bestIndex[n + i], mirrored: true }));
const sorted = perImage.map((p) => p.value).sort((a, b) => a - b);
const quantile = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))].toFixed(3);
console.log(`${n} evaluation images (${evaluationData}) against ${pretraining.length} pretraining images (${pretrainingData}), best Pearson correlation per image, mirror included:`);
console.log(`  median ${quantile(0.5)}, 99th percentile ${quantile(0.99)}, maximum ${sorted[n - 1].toFixed(3)}`);
const close = perImage.map((p, i) => ({ ...p, file: evaluation[i].file })).filter((p) => p.value >= threshold).sort((a, b) => b.value - a.value);
console.log(`  ${close.length} at or above ${threshold}${close.length ? ':' : ''}`);
for (const p of close) console.log(`  ${p.value.toFixed(4)}  ${p.file}  ~  ${pretraining[p.index].file}${p.mirrored ? ' (mirrored)' : ''}`);
release();
