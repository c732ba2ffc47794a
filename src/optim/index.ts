// Optimizers, learning-rate schedulers and gradient clipping (PyTorch 1.13 semantics, updates on the GPU).
export {
  Optimizer,
  splitOptimizerState,
  joinOptimizerState,
  type GroupHyper,
  type ParamGroup,
  type ParamsInput,
  type OptimizerStateDict,
  type OptimizerStateMeta,
} from './optimizer.js';
export { SGD, type SGDOptions, type SGDHyper, type SGDState } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamHyper, type AdamState } from './adam.js';
export { LRScheduler, StepLR, CosineAnnealingLR, type HasParamGroups, type SchedulerStateDict } from './scheduler.js';
export { clipGradNorm, nonFiniteFlag, nonFiniteFlagOf, gradsAreFinite } from './clip.js';
export { WeightAverage } from './average.js';
