// Training a small PCNN on synthetic faces in the page: the recipe of `pcnn train` (SGD, momentum 0.9,
// weight decay 1e-4, loss 12 CE(main) + 8 CE(sense heads)) without augmentation or schedule, one
// step in flight at a time so that the page stays responsive between steps. A non-finite loss stops
// training ("diverged") and the model is thrown away: a NaN model is never handed to the predict panel.
import { PCNN, keep, manualSeed, noGrad, optim, pcnnLoss, tensor, tidy } from '../src/index.js';
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
  /** Held-out accuracy every this many steps (and after the last); 0: never. */
  evaluateEvery?: number;
  /** Faces of the held-out set (seed HELD_OUT_SEED, never trained on). */
  heldOutCount?: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  /** Fraction of the batch the main head classified right (before the update). */
  accuracy: number;
}

export interface EvalRecord {
  step: number;
  /** Main head's accuracy on the held-out faces. */
  accuracy: number;
}

export interface TrainOutcome {
  /** The trained model in eval mode; null when training diverged (it was disposed). */
  model: PCNN | null;
  /** 'done': all steps; 'stopped': onStep asked to stop; 'diverged': a loss was NaN or infinite. */
  outcome: 'done' | 'stopped' | 'diverged';
  /** Steps completed (the diverging one included). */
  steps: number;
  /** The last loss (the non-finite one, when diverged). */
  lastLoss: number;
}

/** The synthetic stream the held-out faces come from; the page trains on stream `seed` (0 by default). */
export const HELD_OUT_SEED = 99;

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

/** The main head's accuracy on `count` held-out faces, in eval mode (running statistics untouched). */
async function heldOutAccuracy(model: PCNN, size: number, count: number): Promise<number> {
  const { x, y } = syntheticBatch(HELD_OUT_SEED, 0, count, size);
  model.eval();
  try {
    const logits = noGrad(() => tidy(() => keep(model.forward(tensor(x, [count, 1, size, size])).out)));
    try {
      return accuracy(await logits.toArray(), y);
    } finally {
      logits.dispose();
    }
  } finally {
    model.train();
  }
}

/**
 * Trains a fresh seeded model; `onStep` sees every step's loss and accuracy (returning false stops),
 * `onEval` every held-out accuracy. Losses are those of Node for the same options (test/browser.test.ts).
 */
export async function trainSynthetic(
  options: TrainOptions,
  onStep: (record: StepRecord) => boolean,
  onEval: (record: EvalRecord) => void = () => {},
): Promise<TrainOutcome> {
  const { width, size, batch, steps, lr, seed = 0, evaluateEvery = 0, heldOutCount = 56 } = options;
  manualSeed(seed);
  const model = new PCNN({ width, inChannels: 1, inputSize: [size, size], numClasses: SYNTHETIC_CLASSES.length });
  model.train();
  const optimizer = new optim.SGD(model.parameters(), { lr, momentum: 0.9, weightDecay: 1e-4 });
  let outcome: TrainOutcome['outcome'] = 'done';
  let done = 0;
  let lastLoss = NaN;
  try {
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
      let keepGoing: boolean;
      try {
        const [l, o] = await Promise.all([loss.toArray(), logits.toArray()]);
        done = step + 1;
        lastLoss = l[0];
        if (!Number.isFinite(lastLoss)) {
          outcome = 'diverged';
          onStep({ step: done, loss: lastLoss, accuracy: accuracy(o, y) });
          break;
        }
        keepGoing = onStep({ step: done, loss: lastLoss, accuracy: accuracy(o, y) });
      } finally {
        loss.dispose();
        logits.dispose();
      }
      const last = !keepGoing || done === steps;
      if (evaluateEvery > 0 && (done % evaluateEvery === 0 || last)) onEval({ step: done, accuracy: await heldOutAccuracy(model, size, heldOutCount) });
      if (!keepGoing) {
        outcome = 'stopped';
        break;
      }
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (outcome === 'diverged') {
    model.dispose();
    return { model: null, outcome, steps: done, lastLoss };
  }
  model.eval();
  return { model, outcome, steps: done, lastLoss };
}

export { SYNTHETIC_CLASSES };
