/**
 * Re-estimates every BatchNorm's running statistics from the training data, with the weights fixed: a
 * cumulative average of batch statistics (PyTorch's `torch.optim.swa_utils.update_bn`), needed after
 * weights are averaged (the statistics of the last weights do not describe the average) and useful
 * after any training, since momentum-averaged statistics lag behind the weights, and a training forward
 * may feed a layer inputs that inference never gives it.
 *
 * The data is what the model trains on (the family's `trainingSet`: FERAtt's faces composited on
 * backgrounds) without augmentation, through a forward without training targets: FERAtt's classifier
 * then sees its attended face only. In training FERAtt feeds it the clean face in 20% of batches
 * instead, whose first BatchNorm statistics are far from the attended face's (running variance ~100x the
 * attended faces' after CK+48 training at width 4), so the official running statistics fit neither.
 *
 * `perPath` (PCNN only) keeps layer4's statistics apart for its two inputs: the reassembled local map
 * x10 and the fused map x1 + x11 have different channel statistics (running means differ by up to 3.6
 * in a reference PyTorch run), so one shared set normalises both wrongly at test time.
 */
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { flush } from '../engine/recorder.js';
import { gpu } from '../engine/device.js';
import { batchNorms } from '../nn/batchnorm.js';
import { PCNN } from '../pcnn/model.js';
import type { WeightAverage } from '../optim/average.js';
import { DataLoader, type Dataset } from './data/index.js';
import { inputTensor } from './step.js';
import { familyOf, sampleShape, type FerModel } from './families.js';

export interface RecalibrationOptions {
  batchSize: number;
  /** PCNN: layer4's statistics kept apart for its pass on x10 (`PCNN.setRegistrationStatistics`). */
  perPath: boolean;
  /** The training run's seed: FERAtt's composites are those of its first epoch. */
  seed: number;
}

export async function recalibrateBatchNorm(model: FerModel, train: Dataset, { batchSize, perPath, seed }: RecalibrationOptions): Promise<void> {
  const family = familyOf(model);
  if (perPath && !(model instanceof PCNN)) {
    throw new Error(`recalibrateBatchNorm: perPath keeps PCNN's layer4 statistics apart for its two inputs; ${family.title} has no such pass`);
  }
  // The data first: a dataset that cannot be served leaves the statistics as they were.
  const data = family.trainingSet(train, { seed, config: model.config, augment: false });
  const loader = new DataLoader(data, {
    batchSize,
    shape: sampleShape(family.name, model.config),
    shuffle: false,
    dropLast: data.length % batchSize === 1, // as in training: one sample has no batch statistics
    transform: family.evalTransform,
  });
  const norms = batchNorms(model);
  const momenta = norms.map((bn) => bn.momentum);
  for (const bn of norms) {
    bn.resetRunningStats();
    bn.momentum = null;
  }
  if (model instanceof PCNN) model.setRegistrationStatistics(perPath ? model.layer4Norms().map((bn) => bn.newStatistics()) : null);
  const wasTraining = model.training;
  model.train();
  try {
    for await (const batch of loader.epoch(0)) {
      noGrad(() => tidy(() => void model.forward(inputTensor(model, batch))));
      flush();
      await gpu().device.queue.onSubmittedWorkDone(); // one batch in flight, as in training
    }
  } finally {
    norms.forEach((bn, i) => (bn.momentum = momenta[i]));
    model.train(wasTraining);
  }
}

/** The end of a recipe that averages weights or re-estimates statistics: the average (if any) into the
 *  model, then its BatchNorm statistics re-estimated on the training data. */
export async function finishTraining(model: FerModel, average: WeightAverage | null, train: Dataset, options: RecalibrationOptions): Promise<void> {
  average?.copyToParameters();
  await recalibrateBatchNorm(model, train, options);
}
