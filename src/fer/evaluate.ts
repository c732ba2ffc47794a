/** Evaluation of a model on a dataset: the classifier's accuracy and confusion matrix, and the accuracy of
 *  the family's auxiliary rule (PCNN: the summed sense heads). */
import { DataLoader, STILL_COMPOSITES, compositeDataset, sampleAt, type Dataset, type Transform } from './data/index.js';
import { stackFrames } from './data/clips.js';
import { hflip } from './data/augment.js';
import { familyOf, sampleShape, type FerModel } from './families.js';
import { predictBatch } from './step.js';
import { ConfusionMatrix, argmaxRows, type ClassificationReport } from './metrics.js';

export interface Evaluation {
  main: ClassificationReport;
  /** Accuracy of the family's auxiliary rule alone (`Family.auxiliaryRule`: PCNN's summed sense heads). */
  auxiliaryAccuracy: number;
  /** With `ensemble`: accuracy of the mean of the class distributions, softmax of the classifier's
   *  logits and of the auxiliary scores, on each image and on its mirror image; an auxiliary rule that
   *  reads the labels (`Family.auxiliaryUsesLabels`, FERAtt's GMM) stays out: the classifier's two alone. */
  ensembleAccuracy?: number;
}

/** Adds softmax(logits) of each row to `into`. */
function addSoftmax(into: Float32Array, logits: Float32Array, classes: number): void {
  for (let row = 0; row < logits.length; row += classes) {
    const max = Math.max(...logits.subarray(row, row + classes));
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[row + c] - max);
    for (let c = 0; c < classes; c++) into[row + c] += Math.exp(logits[row + c] - max) / sum;
  }
}

export async function evaluate(
  model: FerModel,
  dataset: Dataset,
  { batchSize = 64, transform, ensemble = false }: { batchSize?: number; transform?: Transform; ensemble?: boolean } = {},
): Promise<Evaluation> {
  const { inputSize, numClasses } = model.config;
  const shape = sampleShape(familyOf(model).name, model.config);
  const loader = new DataLoader(dataset, {
    batchSize,
    shape,
    shuffle: false,
    transform: transform ?? familyOf(model).evalTransform,
  });
  const wasTraining = model.training;
  model.eval();
  const main = new ConfusionMatrix(numClasses);
  const auxiliary = new ConfusionMatrix(numClasses);
  const mixed = new ConfusionMatrix(numClasses);
  try {
    for await (const batch of loader.epoch(0)) {
      checkLabels(batch.y, numClasses);
      const { logits, auxiliary: scores } = await predictBatch(model, batch);
      main.add(batch.y, argmaxRows(logits, numClasses));
      auxiliary.add(batch.y, argmaxRows(scores, numClasses));
      if (ensemble) {
        // Every row of every channel plane mirrored: the batch seen as one stack of [H, W] planes.
        const planes = batch.x.length / (inputSize[0] * inputSize[1]);
        const mirrored = await predictBatch(model, { x: hflip(batch.x, [planes, inputSize[0], inputSize[1]]), y: batch.y });
        const probabilities = new Float32Array(logits.length);
        const votes = familyOf(model).auxiliaryUsesLabels ? [logits, mirrored.logits] : [logits, scores, mirrored.logits, mirrored.auxiliary];
        for (const rows of votes) addSoftmax(probabilities, rows, numClasses);
        mixed.add(batch.y, argmaxRows(probabilities, numClasses));
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return {
    main: main.report(),
    auxiliaryAccuracy: auxiliary.report().accuracy,
    ...(ensemble ? { ensembleAccuracy: mixed.report().accuracy } : {}),
  };
}

/**
 * `test`'s faces pasted onto backgrounds (compositeDataset: procedural backgrounds, the Lab illumination
 * match; an ellipse mask where a face has none), each face once in order, without the training
 * generator's geometry and colour jitter, so that the accuracy against the plain test images measures
 * the backgrounds alone (FERAtt's claim). Seeded: the same backgrounds for every model evaluated.
 */
export function compositedTestSet(test: Dataset, model: FerModel, seed: number): Dataset {
  const { inputSize, inChannels } = model.config;
  const options = {
    seed, size: inputSize[0], channels: inChannels, sampling: 'sequential', count: test.length,
    ...STILL_COMPOSITES,
  } as const;
  const frames = familyOf(model).clipFrames(model.config);
  if (frames === null) {
    const composites = compositeDataset(test, options);
    return { length: composites.length, get: (index) => composites.sample(0, index) };
  }
  // Clips: each frame composited as a face of its own; the background is a function of (seed, index),
  // so every frame of a clip gets the same one.
  const get = sampleAt(test);
  const plane = inChannels * inputSize[0] * inputSize[1];
  const perFrame = Array.from({ length: frames }, (_, t) =>
    compositeDataset({ length: test.length, get: (i: number) => {
      const clip = get(i);
      return { ...clip, image: clip.image.subarray(t * plane, (t + 1) * plane) };
    } }, options));
  return {
    length: test.length,
    get: (index) => {
      const parts = perFrame.map((c) => c.sample(0, index));
      return { image: stackFrames(parts.map((p) => p.image), parts.map((_, t) => t)), label: parts[0].label, file: parts[0].file };
    },
  };
}

export function checkLabels(labels: Int32Array, classes: number): void {
  const bad = labels.findIndex((l) => l < 0 || l >= classes);
  if (bad >= 0) throw new Error(`label ${labels[bad]} at row ${bad} of a batch is outside 0..${classes - 1} (--classes ${classes})`);
}
