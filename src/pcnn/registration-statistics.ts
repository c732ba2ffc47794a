/**
 * PCNN's second set of layer4 BatchNorm statistics, for its pass on x10 (`PCNN.setRegistrationStatistics`,
 * filled by `recalibrateBatchNorm` with perPath, src/fer/recalibrate.ts): saved in checkpoints beside the
 * state dict under `registration.*`, and loaded from them.
 */
import type { RunningStatistics } from '../nn/batchnorm.js';
import type { PCNN } from './model.js';
import { loadTensors, type StateDict } from '../nn/module.js';
import type { Tensor } from '../engine/tensor.js';

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
