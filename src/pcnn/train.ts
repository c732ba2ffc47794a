/**
 * Training PCNN with the paper's recipe (SGD, momentum 0.9, weight decay 1e-4, StepLR; flip, rotation
 * and padded crop, normalisation, random erasing; loss 12·CE(main) + 8·CE(heads)), validation every
 * epoch, atomic last/best checkpoints, a JSON-lines log and PNG curves. `resume` continues from the
 * last checkpoint exactly: weights, optimizer and scheduler state, epoch, and the data order and
 * augmentation, which are functions of (seed, epoch, batch) alone.
 */
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { manualSeed } from '../engine/random.js';
import { SGD, StepLR, WeightAverage } from '../optim/index.js';
import { pool } from '../engine/pool.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { DataLoader, augment, type Dataset } from './data/index.js';
import { PCNN, type PCNNConfig } from './model.js';
import { trainStep, guardedTrainStep, type StepResult } from './step.js';
import { evaluate, checkLabels, type Evaluation } from './evaluate.js';
import { argmaxRows, pct } from './metrics.js';
import { loadCheckpoint, loadWeights, saveCheckpoint } from './checkpoint.js';
import { loadAllButClassHeads, trunkStateFromResnet } from './pretrained.js';
import { ProgressBar } from './progress.js';
import { lineChart } from './plot.js';

export interface TrainOptions {
  model: Required<PCNNConfig>;
  batch: number;
  epochs: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** StepLR period in epochs and factor. */
  stepSize: number;
  gamma: number;
  alpha: number;
  beta: number;
  seed: number;
  augment: boolean;
  out: string;
  /** Initial weights (ours or a PyTorch .pth). */
  checkpoint?: string;
  /** A torchvision ResNet-18 state dict for all six trunks and the shared layer4. */
  initTrunks?: string;
  /** A PCNN checkpoint (trained on other data) for every weight but the class heads. */
  initFrom?: string;
  resume: boolean;
  /** Clip gradients to this total 2-norm. */
  clipGradNorm?: number;
  /** Check the loss and gradients every step; on a NaN or infinity, name the op and stop or skip. */
  nanGuard?: 'off' | 'stop' | 'skip';
  /** Minutes of training allowed: no epoch is started that would, at the last epoch's pace, end past it. */
  timeLimitMinutes?: number;
  /** Average the weights at the end of this epoch (1-based) and of every later one (stochastic weight
   *  averaging); the average is returned (for recalibrate.ts's `finishTraining`) and kept in last.safetensors. */
  averageFrom?: number;
  /** Stop after this many steps in total (for smoke tests); the epoch is not completed. */
  maxSteps?: number;
  quiet?: boolean;
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  headsAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
  poolPeakMiB: number;
}

/** What a checkpoint's `pcnn` metadata holds. */
export interface TrainingMeta {
  config: Required<PCNNConfig>;
  classNames: string[];
  /** Epochs completed. */
  epoch: number;
  bestAccuracy: number;
  history: EpochRecord[];
  recipe: Recipe;
}

const RECIPE_KEYS = ['initTrunks', 'initFrom', 'batch', 'epochs', 'lr', 'momentum', 'weightDecay', 'stepSize', 'gamma', 'alpha', 'beta', 'seed', 'augment', 'averageFrom'] as const;
export type Recipe = Pick<TrainOptions, (typeof RECIPE_KEYS)[number]>;

export interface TrainResult {
  /** The weights of the last epoch. */
  model: PCNN;
  /** With `averageFrom`: the running average of the weights. */
  average: WeightAverage | null;
  history: EpochRecord[];
  last: Evaluation | null;
  /** What the last checkpoint's metadata holds; null when no epoch was completed. */
  meta: TrainingMeta | null;
  seconds: number;
}

export async function train(
  options: TrainOptions,
  data: { train: Dataset; test: Dataset; classNames: string[] },
): Promise<TrainResult> {
  const log = (text: string) => options.quiet || console.error(text);
  if (data.classNames.length !== options.model.numClasses) {
    throw new Error(`the data has ${data.classNames.length} classes (${data.classNames.join(', ')}), the model --classes ${options.model.numClasses}`);
  }
  mkdirSync(options.out, { recursive: true });
  const lastPath = path.join(options.out, 'last.safetensors');
  const bestPath = path.join(options.out, 'best.safetensors');
  const logPath = path.join(options.out, 'log.jsonl');

  manualSeed(options.seed);
  const model = new PCNN(options.model);
  if (options.checkpoint) {
    const { state, ignored } = await loadWeights(options.checkpoint, ['resnet']);
    model.loadStateDict(state);
    if (ignored.length) log(`${options.checkpoint}: ignored ${ignored.length} unused entries (${ignored[0]}, ...)`);
  }
  if (options.initTrunks) {
    const { state: resnet } = await loadWeights(options.initTrunks);
    const { state, unused } = trunkStateFromResnet(resnet, model, options.initTrunks);
    model.loadStateDict(state, { strict: false });
    log(`${options.initTrunks}: loaded into the six trunks and layer4 (${unused.length} entries unused: ${unused.slice(0, 3).join(', ')})`);
  }
  if (options.initFrom) {
    const { state } = await loadWeights(options.initFrom, ['resnet']);
    loadAllButClassHeads(model, state, options.initFrom);
    log(`${options.initFrom}: loaded all but the class heads, which start fresh`);
  }
  const optimizer = new SGD(model.parameters(), { lr: options.lr, momentum: options.momentum, weightDecay: options.weightDecay });
  const scheduler = new StepLR(optimizer, { stepSize: options.stepSize, gamma: options.gamma });

  if (options.averageFrom !== undefined && (!Number.isInteger(options.averageFrom) || options.averageFrom < 1 || options.averageFrom > options.epochs)) {
    throw new Error(`averageFrom must be an epoch from 1 to ${options.epochs} (the last), got ${options.averageFrom}`);
  }
  const average = options.averageFrom === undefined ? null : new WeightAverage(model.namedParameters());

  let history: EpochRecord[] = [];
  let meta: TrainingMeta | null = null;
  let bestAccuracy = -1;
  let startEpoch = 0;
  if (options.resume && existsSync(lastPath)) {
    const saved = await loadCheckpoint<TrainingMeta>(lastPath);
    if (!saved.meta) throw new Error(`${lastPath}: not a training checkpoint (no pcnn metadata)`);
    if (JSON.stringify(saved.meta.config) !== JSON.stringify(options.model)) {
      throw new Error(`--resume: ${lastPath} was trained with ${JSON.stringify(saved.meta.config)}, not ${JSON.stringify(options.model)}`);
    }
    model.loadStateDict(saved.model);
    saved.restore(optimizer, scheduler);
    meta = saved.meta;
    ({ history, bestAccuracy, epoch: startEpoch } = meta);
    if (average && saved.average) average.loadStateDict(saved.average);
    else if (average && startEpoch >= options.averageFrom!) {
      throw new Error(`--resume: ${lastPath} holds no weight average, but averaging starts at epoch ${options.averageFrom} and ${startEpoch} are done`);
    }
    log(`resumed from ${lastPath} after epoch ${startEpoch}`);
  } else if (options.resume) {
    log(`--resume: no ${lastPath} yet, starting from scratch`);
  }

  const { inChannels, inputSize } = options.model;
  const shape = [inChannels, inputSize[0], inputSize[1]] as const;
  const loader = new DataLoader(data.train, {
    batchSize: options.batch,
    shape,
    shuffle: true,
    seed: options.seed,
    // A last batch of one sample would make batch-norm statistics degenerate (PyTorch raises there).
    dropLast: data.train.length % options.batch === 1,
    transform: options.augment ? (image, s, g) => augment(image, s, g) : undefined,
  });

  const started = performance.now();
  let steps = 0;
  let last: Evaluation | null = null;
  for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
    const epochStart = performance.now();
    const lastEpochSeconds = history.at(-1)?.seconds ?? 0;
    if (options.timeLimitMinutes !== undefined && epoch > startEpoch &&
        (epochStart - started) / 1000 + lastEpochSeconds > 60 * options.timeLimitMinutes) {
      log(`time limit of ${options.timeLimitMinutes} min: stopping after epoch ${epoch}`);
      break;
    }
    pool.resetPeak();
    model.train();
    const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, loader.length);
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let done = 0;
    // One step in flight: the next batch is recorded before the previous step's loss is awaited.
    let inFlight: { result: Promise<StepResult>; labels: Int32Array } | null = null;
    const settle = async () => {
      if (!inFlight) return;
      const { loss, logits } = await inFlight.result;
      if (!Number.isFinite(loss)) {
        throw new Error(`training diverged: loss ${loss} at epoch ${epoch + 1}, batch ${done + 1} (--nan-guard stop names the op that produced it)`);
      }
      const predicted = argmaxRows(logits, options.model.numClasses);
      lossSum += loss * inFlight.labels.length;
      correct += predicted.reduce((s, p, i) => s + (p === inFlight!.labels[i] ? 1 : 0), 0);
      seen += inFlight.labels.length;
      done++;
      const rate = seen / ((performance.now() - epochStart) / 1000);
      bar.update(done, { loss: (lossSum / seen).toFixed(3), acc: `${((100 * correct) / seen).toFixed(1)}%`, 'img/s': rate.toFixed(0) });
      inFlight = null;
    };
    const stepOptions = { alpha: options.alpha, beta: options.beta, clipGradNorm: options.clipGradNorm };
    const guard = options.nanGuard ?? 'off';
    let skipped = 0;
    for await (const batch of loader.epoch(epoch)) {
      checkLabels(batch.y, options.model.numClasses);
      let result: Promise<StepResult>;
      if (guard === 'off') {
        result = trainStep(model, optimizer, batch, stepOptions);
      } else {
        const guarded = await guardedTrainStep(model, optimizer, batch, { ...stepOptions, onNonFinite: guard });
        if (guarded.skipped) {
          skipped++;
          log(`epoch ${epoch + 1}, batch ${done + 1}: skipped a step with a non-finite loss or gradient, first produced by ${guarded.skipped}`);
          continue;
        }
        result = Promise.resolve(guarded);
      }
      await settle();
      inFlight = { result, labels: batch.y };
      if (options.maxSteps !== undefined && ++steps >= options.maxSteps) break;
    }
    await settle();
    if (skipped) log(`epoch ${epoch + 1}: ${skipped} step(s) skipped by the NaN guard`);
    if (options.maxSteps !== undefined && steps >= options.maxSteps) break;

    const lr = optimizer.paramGroups[0].lr;
    scheduler.step();
    if (average && epoch + 1 >= options.averageFrom!) average.update();
    const trainSeconds = (performance.now() - epochStart) / 1000;
    last = await evaluate(model, data.test, { batchSize: Math.max(options.batch, 64) });
    const record: EpochRecord = {
      epoch: epoch + 1,
      lr,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      testAccuracy: last.main.accuracy,
      headsAccuracy: last.headsAccuracy,
      imagesPerSecond: seen / trainSeconds,
      seconds: (performance.now() - epochStart) / 1000,
      poolPeakMiB: pool.memory().peakBytesInUse / 2 ** 20,
    };
    history.push(record);
    log(
      `epoch ${record.epoch}: loss ${record.trainLoss.toFixed(4)}, train ${pct(record.trainAccuracy)}, ` +
        `test ${pct(record.testAccuracy)} (heads ${pct(record.headsAccuracy)}), ${record.imagesPerSecond.toFixed(0)} img/s`,
    );
    meta = {
      config: options.model,
      classNames: data.classNames,
      epoch: epoch + 1,
      bestAccuracy: Math.max(bestAccuracy, record.testAccuracy),
      history,
      recipe: Object.fromEntries(RECIPE_KEYS.map((k) => [k, options[k]])) as Recipe,
    };
    await saveCheckpoint(lastPath, { model, meta, optimizer, scheduler, ...(average?.count ? { average: average.stateDict() } : {}) });
    if (record.testAccuracy > bestAccuracy) {
      bestAccuracy = record.testAccuracy;
      await saveCheckpoint(bestPath, { model, meta });
    }
    writeFileAtomic(logPath, new TextEncoder().encode(history.map((h) => JSON.stringify(h)).join('\n') + '\n'));
    writeCurves(options.out, history);
  }
  return { model, average, history, last, meta, seconds: (performance.now() - started) / 1000 };
}

function writeCurves(out: string, history: EpochRecord[]): void {
  const loss = lineChart('training loss', 'epoch', [{ name: 'train loss', points: history.map((h) => [h.epoch, h.trainLoss]) }]);
  const accuracy = lineChart('accuracy (%)', 'epoch', [
    { name: 'train', points: history.map((h) => [h.epoch, 100 * h.trainAccuracy]) },
    { name: 'test', points: history.map((h) => [h.epoch, 100 * h.testAccuracy]) },
    { name: 'test, heads', points: history.map((h) => [h.epoch, 100 * h.headsAccuracy]) },
  ]);
  writeFileAtomic(path.join(out, 'loss.png'), loss);
  writeFileAtomic(path.join(out, 'accuracy.png'), accuracy);
}

/** The history of a finished or interrupted run (for reports). */
export function readHistory(out: string): EpochRecord[] {
  const file = path.join(out, 'log.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as EpochRecord);
}
