/**
 * One training step and one inference pass, as the data flow of docs/ARCHITECTURE.md: upload, forward,
 * loss, backward, optimizer update recorded into the command stream, then submitted; the loss and
 * logits are read back asynchronously so that the host can prepare the next batch meanwhile.
 */
import { tensor, type Tensor } from '../engine/tensor.js';
import { tidy, keep } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import { recorder } from '../engine/recorder.js';
import { batchNorms } from '../nn/batchnorm.js';
import { familyOf, inputShape, type FerModel, type LossOptions } from './families.js';
import { clipGradNorm, nonFiniteFlagOf } from '../optim/index.js';
import { locateNonFinite, NonFiniteError } from './guard.js';

/** What a training step needs of an optimizer. */
export interface Stepper {
  step(): void;
  zeroGrad(): void;
}

export interface Batch {
  /** [B, C, H, W] row-major ([B, T·C, H, W], T frames of C channels, for models of clips). */
  x: Float32Array;
  y: Int32Array;
  /** The background-free faces of x, [B, C, H, W], for models trained towards them (FERAtt). */
  clean?: Float32Array;
}

export interface StepResult {
  loss: number;
  /** Main-head logits [B, classes]. */
  logits: Float32Array;
}

/** The batch as the model's input: [N, C, H, W], or [N, T, C, H, W] for a model of clips. */
export function inputTensor(model: FerModel, batch: Batch, images: Float32Array = batch.x): Tensor {
  return tensor(images, inputShape(model, batch.y.length));
}

export interface StepOptions extends LossOptions {
  /** Clip the gradients to this total 2-norm before the update. */
  clipGradNorm?: number;
}

/** Forward, loss and backward of one batch; the loss and logits are returned detached and kept. */
function lossAndGradients(model: FerModel, batch: Batch, options: StepOptions): [Tensor, Tensor] {
  const input = { x: inputTensor(model, batch), y: batch.y, ...(batch.clean ? { clean: inputTensor(model, batch, batch.clean) } : {}) };
  const { loss, logits } = familyOf(model).trainingLoss(model, input, options);
  loss.backward();
  if (options.clipGradNorm !== undefined) clipGradNorm(model.parameters(), options.clipGradNorm);
  return [keep(loss.detach()), keep(logits.detach())];
}

/** Records one training step (forward, loss, backward, the optimizer's update) and returns a promise of its loss and logits (resolved when the GPU is done). */
export function trainStep(model: FerModel, optimizer: Stepper, batch: Batch, options: StepOptions = {}): Promise<StepResult> {
  const [lossValue, logits] = tidy(() => {
    const result = lossAndGradients(model, batch, options);
    optimizer.step();
    optimizer.zeroGrad();
    return result;
  });
  return readAndDispose(lossValue, logits);
}

/**
 * A step that checks the loss and every gradient before the update (one readback per step). When one
 * is not finite, the step is re-run watching every op to name the first that produced a NaN or an
 * infinity; then `onNonFinite` 'stop' throws a NonFiniteError naming it, 'skip' drops the update.
 * Either way the weights, the optimizer state and the BatchNorm running statistics are left as they
 * were before the step: the forward updates the statistics, so they are saved first and put back.
 */
export async function guardedTrainStep(
  model: FerModel,
  optimizer: Stepper,
  batch: Batch,
  options: StepOptions & { onNonFinite: 'stop' | 'skip' },
): Promise<StepResult & { skipped?: string }> {
  const statistics = saveRunningStatistics(model);
  try {
    const [lossValue, logits, flag] = tidy(() => {
      const result = lossAndGradients(model, batch, options);
      const grads = model.parameters().flatMap((p) => (p.grad ? [p.grad] : []));
      return [...result, keep(nonFiniteFlagOf([result[0], ...grads]))];
    });
    const bad = (await flag.item()) !== 0;
    flag.dispose();
    if (!bad) {
      tidy(() => {
        optimizer.step();
        optimizer.zeroGrad();
      });
      return await readAndDispose(lossValue, logits);
    }
    optimizer.zeroGrad();
    const culprit = (await locateNonFinite(() => void lossAndGradients(model, batch, options).forEach((t) => t.dispose()))) ?? 'no op (the fault did not recur)';
    optimizer.zeroGrad();
    statistics.restore();
    const result = await readAndDispose(lossValue, logits);
    if (options.onNonFinite === 'stop') {
      throw new NonFiniteError(`non-finite loss or gradient (loss ${result.loss}); first produced by ${culprit}`);
    }
    return { ...result, skipped: culprit };
  } finally {
    statistics.dispose();
  }
}

/** Copies of what a training forward writes besides its outputs: every BatchNorm's running statistics
 *  and batch count, and the family's other statistics (PCNN's registration statistics). */
function saveRunningStatistics(model: FerModel): { restore(): void; dispose(): void } {
  const cumulative = batchNorms(model).find((bn) => bn.momentum === null);
  if (cumulative) {
    throw new Error(
      `guardedTrainStep: a BatchNorm2d(${cumulative.numFeatures}) has momentum null (a cumulative average), whose ` +
        'batch count is kept on the host where a rejected step could not put it back; expected a number (0.1 by default)',
    );
  }
  const live = [...new Set([...model.namedBuffers().map(([, t]) => t), ...familyOf(model).extraStatistics(model)])];
  const saved = live.map((t) => keep(t.clone()));
  return {
    restore: () => live.forEach((t, i) => recorder.copy(saved[i].buffer, saved[i].byteOffset, t.buffer, t.byteOffset, t.size * 4)),
    dispose: () => saved.forEach((t) => t.dispose()),
  };
}

/** Reads the loss and logits back. Both are disposed at once: `toArray` records its copy before
 *  returning, and a disposal that does not wait for the GPU keeps the pool's assignment (and so the
 *  bind groups) identical from step to step. */
async function readAndDispose(lossValue: Tensor, logits: Tensor): Promise<StepResult> {
  const reads = [lossValue.toArray(), logits.toArray()];
  lossValue.dispose();
  logits.dispose();
  const [l, out] = await Promise.all(reads);
  return { loss: l[0], logits: out };
}

/** The classifier's logits and the auxiliary rule's scores for a batch (PCNN: the summed sense heads),
 *  without recording a graph. */
export async function predictBatch(model: FerModel, batch: Batch): Promise<{ logits: Float32Array; auxiliary: Float32Array }> {
  const { logits, auxiliary } = noGrad(() => tidy(() => familyOf(model).predict(model, inputTensor(model, batch), batch.y)));
  try {
    if (!auxiliary) throw new Error(`predictBatch: the ${familyOf(model).title} auxiliary rule gave no scores with the labels given`);
    const [l, a] = await Promise.all([logits.toArray(), auxiliary.toArray()]);
    return { logits: l, auxiliary: a };
  } finally {
    logits.dispose();
    auxiliary?.dispose();
  }
}
