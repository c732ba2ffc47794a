/**
 * Re-estimates every BatchNorm's running statistics from a dataset, with the weights fixed: a
 * cumulative average of batch statistics (PyTorch's `torch.optim.swa_utils.update_bn`), needed after
 * weights are averaged (the statistics of the last weights do not describe the average) and useful
 * after any training, since momentum-averaged statistics lag behind the weights.
 *
 * `perPath` keeps layer4's statistics apart for its two inputs: the reassembled local map x10 and the
 * fused map x1 + x11 have different channel statistics (running means differ by up to 3.6 in a
 * reference PyTorch run), so one shared set normalises both wrongly at test time. Images are served
 * without augmentation, as at test time.
 */
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { flush } from '../engine/recorder.js';
import { gpu } from '../engine/device.js';
import { batchNorms, type RunningStatistics } from '../nn/batchnorm.js';
import { DataLoader, evalTransform, type Dataset } from '../fer/data/index.js';
import { inputTensor } from '../fer/step.js';
import type { PCNN } from './model.js';
import type { WeightAverage } from '../optim/average.js';
import { loadTensors, type StateDict } from '../nn/module.js';
import type { Tensor } from '../engine/tensor.js';

export async function recalibrateBatchNorm(
  model: PCNN,
  dataset: Dataset,
  { batchSize, perPath }: { batchSize: number; perPath: boolean },
): Promise<void> {
  const norms = batchNorms(model);
  const momenta = norms.map((bn) => bn.momentum);
  for (const bn of norms) {
    bn.resetRunningStats();
    bn.momentum = null;
  }
  model.setRegistrationStatistics(perPath ? model.layer4Norms().map((bn) => bn.newStatistics()) : null);
  const { inChannels, inputSize } = model.config;
  const loader = new DataLoader(dataset, {
    batchSize,
    shape: [inChannels, inputSize[0], inputSize[1]],
    shuffle: false,
    dropLast: dataset.length % batchSize === 1, // as in training: one sample has no batch statistics
    transform: (image, shape) => evalTransform(image, shape),
  });
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

/** The end of a recipe that averages weights or keeps layer4's statistics per path: the average (if
 *  any) into the model, then its BatchNorm statistics re-estimated on the training images. */
export async function finishTraining(
  model: PCNN,
  average: WeightAverage | null,
  trainSet: Dataset,
  options: { batchSize: number; perPath: boolean },
): Promise<void> {
  average?.copyToParameters();
  await recalibrateBatchNorm(model, trainSet, options);
}

/** The model's separate layer4 statistics as named tensors (`<i>.running_mean`, `<i>.running_var`, i in
 *  `layer4Norms` order), for checkpoints; empty when layer4 shares one set, as in the official code. */
export function registrationState(model: PCNN): Record<string, Tensor> {
  return byName(model.registrationStatistics ?? []);
}

function byName(statistics: readonly RunningStatistics[]): Record<string, Tensor> {
  return Object.fromEntries(statistics.flatMap((s, i) => [[`${i}.running_mean`, s.mean], [`${i}.running_var`, s.variance]]));
}

/** Gives the model separate layer4 statistics from `registrationState`'s names; all must be there. */
export function loadRegistrationState(model: PCNN, state: StateDict, file: string): void {
  const statistics = model.layer4Norms().map((bn) => bn.newStatistics());
  const own = byName(statistics);
  try {
    loadTensors(own, state, { owner: `${file}: registration statistics` });
  } catch (error) {
    for (const t of Object.values(own)) t.dispose();
    throw error;
  }
  model.setRegistrationStatistics(statistics);
}
