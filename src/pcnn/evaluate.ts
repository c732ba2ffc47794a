/** Evaluation of a PCNN on a dataset: main-head and sense-head accuracy, confusion matrix. */
import { DataLoader, evalTransform, type Dataset, type Transform } from './data/index.js';
import type { PCNN } from './model.js';
import { predictBatch } from './step.js';
import { ConfusionMatrix, argmaxRows, type ClassificationReport } from './metrics.js';

export interface Evaluation {
  main: ClassificationReport;
  /** Accuracy of the summed sense heads alone. */
  headsAccuracy: number;
}

export async function evaluate(
  model: PCNN,
  dataset: Dataset,
  { batchSize = 64, transform }: { batchSize?: number; transform?: Transform } = {},
): Promise<Evaluation> {
  const { inChannels, inputSize, numClasses } = model.config;
  const shape = [inChannels, inputSize[0], inputSize[1]] as const;
  const loader = new DataLoader(dataset, {
    batchSize,
    shape,
    shuffle: false,
    transform: transform ?? ((image, s) => evalTransform(image, s)),
  });
  const wasTraining = model.training;
  model.eval();
  const main = new ConfusionMatrix(numClasses);
  const heads = new ConfusionMatrix(numClasses);
  try {
    for await (const batch of loader.epoch(0)) {
      checkLabels(batch.y, numClasses);
      const { out, heads: h } = await predictBatch(model, batch);
      main.add(batch.y, argmaxRows(out, numClasses));
      heads.add(batch.y, argmaxRows(h, numClasses));
    }
  } finally {
    model.train(wasTraining);
  }
  return { main: main.report(), headsAccuracy: heads.report().accuracy };
}

export function checkLabels(labels: Int32Array, classes: number): void {
  const bad = labels.findIndex((l) => l < 0 || l >= classes);
  if (bad >= 0) throw new Error(`label ${labels[bad]} at row ${bad} of a batch is outside 0..${classes - 1} (--classes ${classes})`);
}
