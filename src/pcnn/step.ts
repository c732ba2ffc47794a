/**
 * One training step and one inference pass, as the data flow of docs/ARCHITECTURE.md: upload, forward,
 * loss, backward, optimizer update recorded into the command stream, then submitted; the loss and
 * logits are read back asynchronously so that the host can prepare the next batch meanwhile.
 */
import { tensor, type Tensor } from '../engine/tensor.js';
import { tidy, keep } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import type { PCNN } from './model.js';
import { pcnnLoss, type PCNNLossOptions } from './loss.js';

/** What a training step needs of an optimizer. */
export interface Stepper {
  step(): void;
  zeroGrad(): void;
}

export interface Batch {
  /** [B, C, H, W] row-major. */
  x: Float32Array;
  y: Int32Array;
}

export interface StepResult {
  loss: number;
  /** Main-head logits [B, classes]. */
  logits: Float32Array;
}

function inputTensor(model: PCNN, batch: Batch): Tensor {
  const { inChannels, inputSize } = model.config;
  const n = batch.y.length;
  return tensor(batch.x, [n, inChannels, inputSize[0], inputSize[1]]);
}

/** Records one SGD step and returns a promise of its loss and logits (resolved when the GPU is done). */
export function trainStep(model: PCNN, optimizer: Stepper, batch: Batch, loss: PCNNLossOptions = {}): Promise<StepResult> {
  const [lossValue, logits] = tidy(() => {
    const { out, heads } = model.forward(inputTensor(model, batch));
    const total = pcnnLoss(out, heads, batch.y, loss);
    total.backward();
    optimizer.step();
    optimizer.zeroGrad();
    return [keep(total.detach()), keep(out.detach())];
  });
  return readAndDispose(lossValue, logits);
}

async function readAndDispose(lossValue: Tensor, logits: Tensor): Promise<StepResult> {
  try {
    const [l, out] = await Promise.all([lossValue.toArray(), logits.toArray()]);
    return { loss: l[0], logits: out };
  } finally {
    lossValue.dispose();
    logits.dispose();
  }
}

/** Main-head and summed sense-head logits for a batch, without recording a graph. */
export async function predictBatch(model: PCNN, batch: Batch): Promise<{ out: Float32Array; heads: Float32Array }> {
  const { out, heads } = noGrad(() => tidy(() => model.forward(inputTensor(model, batch))));
  try {
    const [o, h] = await Promise.all([out.toArray(), heads.toArray()]);
    return { out: o, heads: h };
  } finally {
    out.dispose();
    heads.dispose();
  }
}
