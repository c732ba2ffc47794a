// Training a small PCNN on synthetic faces in the page: the recipe of `pcnn train` (SGD, momentum 0.9,
// weight decay 1e-4, loss 12 CE(main) + 8 CE(sense heads)) without augmentation or schedule, one
// step in flight at a time so that the page stays responsive between steps.
import { PCNN, keep, manualSeed, optim, pcnnLoss, tensor, tidy } from '../src/index.js';
import { SYNTHETIC_CLASSES, syntheticFace, syntheticLabel } from '../src/fer/data/synthetic.js';
import { evalTransform } from '../src/fer/data/augment.js';

export interface TrainOptions {
  width: number;
  /** Side of the square gray input. */
  size: number;
  batch: number;
  steps: number;
  lr: number;
  seed?: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  /** Fraction of the batch the main head classified right (before the update). */
  accuracy: number;
}

/** Batch `index` of the synthetic stream `seed`: normalised images [B, 1, size, size] and labels. */
function syntheticBatch(seed: number, index: number, batch: number, size: number) {
  const x = new Float32Array(batch * size * size);
  const y = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const sample = index * batch + i;
    x.set(evalTransform(syntheticFace(seed, sample, size, 1), [1, size, size]), i * size * size);
    y[i] = syntheticLabel(seed, sample);
  }
  return { x, y };
}

function accuracy(logits: Float32Array, labels: Int32Array): number {
  const k = logits.length / labels.length;
  let right = 0;
  labels.forEach((label, i) => {
    const row = logits.subarray(i * k, (i + 1) * k);
    if (row.indexOf(Math.max(...row)) === label) right++;
  });
  return right / labels.length;
}

/**
 * Trains a fresh seeded model; `onStep` sees every step's loss and accuracy, and returning false from
 * it stops early. The model comes back in eval mode, ready for the predict panel.
 */
export async function trainSynthetic(options: TrainOptions, onStep: (record: StepRecord) => boolean): Promise<PCNN> {
  const { width, size, batch, steps, lr, seed = 0 } = options;
  manualSeed(seed);
  const model = new PCNN({ width, inChannels: 1, inputSize: [size, size], numClasses: SYNTHETIC_CLASSES.length });
  model.train();
  const optimizer = new optim.SGD(model.parameters(), { lr, momentum: 0.9, weightDecay: 1e-4 });
  for (let step = 0; step < steps; step++) {
    const { x, y } = syntheticBatch(seed, step, batch, size);
    const [loss, logits] = tidy(() => {
      const { out, heads } = model.forward(tensor(x, [batch, 1, size, size]));
      const total = pcnnLoss(out, heads, y);
      total.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return [keep(total.detach()), keep(out.detach())];
    });
    try {
      const [l, o] = await Promise.all([loss.toArray(), logits.toArray()]);
      if (!onStep({ step: step + 1, loss: l[0], accuracy: accuracy(o, y) })) break;
    } finally {
      loss.dispose();
      logits.dispose();
    }
  }
  model.eval();
  return model;
}

export { SYNTHETIC_CLASSES };
