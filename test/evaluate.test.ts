import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { evaluate } from '../src/fer/evaluate.js';
import { predictBatch } from '../src/fer/step.js';
import { evalTransform } from '../src/fer/data/index.js';
import { manualSeed, Generator } from '../src/engine/random.js';
import type { Sample } from '../src/fer/data/types.js';

// The reference recomputes every rule from the logits of each image and of its mirror image, in
// float64, image by image (evaluate works on whole batches, mirrors them at once and adds in float32).
test('evaluate: main head, sense heads and the mirrored ensemble agree with a per-image reference', async () => {
  manualSeed(3);
  const classes = 7;
  const [h, w] = [32, 32];
  const model = new PCNN({ width: 2, inputSize: [h, w], numClasses: classes });
  const g = new Generator(5);
  const samples: Sample[] = Array.from({ length: 20 }, (_, i) => ({
    image: Float32Array.from({ length: h * w }, () => g.uniform(0, 1)),
    label: i % classes,
    file: `image${i}`,
  }));
  const result = await evaluate(model, samples, { batchSize: 8, ensemble: true });

  model.eval();
  const hits = { main: 0, heads: 0, ensemble: 0 };
  const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((best, x, i, all) => (x > all[best] ? i : best), 0);
  const softmax = (v: Float32Array) => {
    const max = Math.max(...v);
    const e = Array.from(v, (x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  };
  for (const { image, label } of samples) {
    const x = evalTransform(image, [1, h, w]);
    const mirror = new Float32Array(x.length);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) mirror[r * w + c] = x[r * w + w - 1 - c];
    const plain = await predictBatch(model, { x, y: Int32Array.of(label) });
    const mirrored = await predictBatch(model, { x: mirror, y: Int32Array.of(label) });
    const mixed = [plain.logits, plain.auxiliary, mirrored.logits, mirrored.auxiliary]
      .map(softmax)
      .reduce((a, b) => a.map((v, i) => v + b[i]));
    hits.main += Number(argmax(plain.logits) === label);
    hits.heads += Number(argmax(plain.auxiliary) === label);
    hits.ensemble += Number(argmax(mixed) === label);
  }
  assert.is(result.main.accuracy, hits.main / samples.length);
  assert.is(result.auxiliaryAccuracy, hits.heads / samples.length);
  assert.is(result.ensembleAccuracy, hits.ensemble / samples.length);
  assert.is((await evaluate(model, samples, { batchSize: 8 })).ensembleAccuracy, undefined);
  model.dispose();
});

test.run();
