/**
 * Training a FER model (families.ts: PCNN with the paper's recipe, SGD with momentum 0.9, weight decay
 * 1e-4, StepLR, loss 12·CE(main) + 8·CE(heads); FERAtt with its official Adam) on augmented images
 * (flip, rotation and padded crop, normalisation, random erasing), validation every epoch, atomic last/best checkpoints, a JSON-lines log and PNG curves. `resume` continues from the
 * last checkpoint exactly: weights, optimizer and scheduler state, epoch, and the data order and
 * augmentation, which are functions of (seed, epoch, batch) alone; it refuses a recipe other than the
 * one saved there (recipe.ts), which the checkpoints go on recording. A run holds its output folder
 * (a lock file) so that two runs cannot interleave their checkpoints there.
 */
import { closeSync, mkdirSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { manualSeed } from '../engine/random.js';
import { StepLR, WeightAverage } from '../optim/index.js';
import { pool } from '../engine/pool.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { DataLoader, type Dataset } from './data/index.js';
import { mixSeed } from './data/seed.js';
import { createModel, family, familyOf, sampleShape, type AnyOptimizer, type FerModel, type ModelName, type ModelSpec } from './families.js';
import { trainStep, guardedTrainStep, type Batch, type StepResult } from './step.js';
import { checkSameRecipe } from './recipe.js';
import { evaluate, checkLabels, type Evaluation } from './evaluate.js';
import { argmaxRows, pct } from './metrics.js';
import { loadCheckpoint, loadWeights, saveCheckpoint } from './checkpoint.js';
import { ProgressBar } from './progress.js';
import { lineChart } from './plot.js';

export interface TrainOptions {
  model: ModelSpec;
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
  /** A torchvision ResNet-18 state dict for all six trunks and the shared layer4 (PCNN). */
  initTrunks?: string;
  /** A checkpoint of the same model (trained on other data) for every weight but the class heads. */
  initFrom?: string;
  resume: boolean;
  /** Clip gradients to this total 2-norm. */
  clipGradNorm?: number;
  /** Check the loss and gradients every step; on a NaN or infinity, name the op and stop or skip. */
  nanGuard?: 'off' | 'stop' | 'skip';
  /** Minutes of training allowed: no epoch is started that would, at the last epoch's pace, end past it. */
  timeLimitMinutes?: number;
  /** Average the weights at the end of this epoch (1-based) and of every later one (stochastic weight
   *  averaging); the average is returned (for fer/recalibrate.ts's `finishTraining`) and kept in last.safetensors. */
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
  /** The family's auxiliary rule (PCNN: the summed sense heads). */
  auxiliaryAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
  poolPeakMiB: number;
}

/** What a checkpoint's `pcnn` metadata holds. */
export interface TrainingMeta {
  /** The model's family; absent in checkpoints written before there was more than PCNN. */
  model?: ModelName;
  config: ModelSpec['config'];
  classNames: string[];
  /** Epochs completed. */
  epoch: number;
  bestAccuracy: number;
  history: EpochRecord[];
  recipe: Recipe;
  /** The data the run trained and was tested on (absent in checkpoints written before). */
  data?: DataSummary;
}

/** What a resumed run checks of its data, with the class names: another `--data`, `--fold` or
 *  `--last-frame` since would continue on other images (in another order) without an error. */
interface DataSummary {
  /** The data's name where the caller gives one (the CLI: folder and fold, datasets.ts). */
  name?: string;
  trainImages: number;
  testImages: number;
}

type TrainingData = { train: Dataset; test: Dataset; classNames: string[]; name?: string };

function dataSummary(data: TrainingData): DataSummary {
  return { ...(data.name === undefined ? {} : { name: data.name }), trainImages: data.train.length, testImages: data.test.length };
}

const RECIPE_KEYS = ['checkpoint', 'initTrunks', 'initFrom', 'batch', 'epochs', 'lr', 'momentum', 'weightDecay', 'stepSize', 'gamma', 'alpha', 'beta', 'seed', 'augment', 'clipGradNorm', 'averageFrom'] as const;
export type Recipe = Pick<TrainOptions, (typeof RECIPE_KEYS)[number]>;

export interface TrainResult {
  /** The weights of the last epoch. */
  model: FerModel;
  /** With `averageFrom`: the running average of the weights. */
  average: WeightAverage | null;
  history: EpochRecord[];
  last: Evaluation | null;
  /** What the last checkpoint's metadata holds; null when no epoch was completed. */
  meta: TrainingMeta | null;
  seconds: number;
}

export async function train(options: TrainOptions, data: TrainingData): Promise<TrainResult> {
  const log = (text: string) => options.quiet || console.error(text);
  checkOptions(options, data);
  makeOutputFolder(options.out, 'out');
  const unlock = lockFolder(options.out);
  try {
    const run = await startingState(options, data, log);
    const loader = trainingLoader(data.train, options);
    const started = performance.now();
    let last: Evaluation | null = null;
    for (let epoch = run.epochsDone; epoch < options.epochs; epoch++) {
      if (pastTimeLimit(options, run, epoch, started)) {
        log(`time limit of ${options.timeLimitMinutes} min: stopping after epoch ${epoch}`);
        break;
      }
      const epochStart = performance.now();
      const tally = await runEpoch(run, loader, epoch, options, log);
      if (options.maxSteps !== undefined && run.steps >= options.maxSteps) break;
      const lr = endEpoch(run, epoch, options);
      const trainSeconds = secondsSince(epochStart);
      last = await evaluate(run.model, data.test, { batchSize: evaluationBatchSize(options) });
      const record = epochRecord(epoch, lr, tally, last, trainSeconds, secondsSince(epochStart));
      run.history.push(record);
      logEpoch(record, family(options.model.name).auxiliaryRule, log);
      await saveCheckpoints(run, record, options, data);
      writeLogAndCurves(options.out, run.history, family(options.model.name).auxiliaryRule);
    }
    return { model: run.model, average: run.average, history: run.history, last, meta: run.meta, seconds: secondsSince(started) };
  } finally {
    unlock();
  }
}

/**
 * Creates the folder `out` (and its parents) where missing. A file in the way, at `out` or above it, is
 * an error naming `option` (the CLI's '--out'), the path and what was expected, where mkdir would say
 * only EEXIST or ENOTDIR.
 */
export function makeOutputFolder(out: string, option: string): void {
  let existing = path.resolve(out);
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (existsSync(existing) && !statSync(existing).isDirectory()) {
    const what = existing === path.resolve(out) ? 'a file' : `under a file (${existing})`;
    throw new Error(`${option} ${out} is ${what}; expected a folder (or a path to create)`);
  }
  try {
    mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new Error(`${option} ${out}: cannot create the folder: ${(error as Error).message}`);
  }
}

/** The lock file of an output folder in use by a training; it holds the pid of the process training there. */
export const LOCK_FILE = 'training.lock';

/**
 * Takes `out` for this process: creates its lock file exclusively, or takes over one whose process has
 * ended without removing it (killed); refuses a folder whose process is alive, naming it. Returns the
 * release, which also runs at process exit (an exit in the middle of training).
 */
function lockFolder(out: string): () => void {
  const file = path.join(out, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!existsSync(file)) continue; // released in between
    const holder = lockHolder(file);
    // A second attempt that finds a lock again lost the takeover to another process.
    if (holder === null || processIsAlive(holder) || attempt > 0) {
      throw new Error(`${out} is in use by ${holder === null ? `a process that has not written its pid to ${file} yet` : `process ${holder} (${file})`}: ` +
        `two trainings would interleave their checkpoints; wait for it to end or use another --out` +
        (holder === null ? ` (remove ${file} if no training runs there)` : ''));
    }
    rmSync(file, { force: true });
  }
  const release = () => {
    process.off('exit', release);
    if (lockHolder(file) === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', release);
  return release;
}

function lockHolder(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(pid) && pid > 0 ? pid : null;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only the check that the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists, under another user
  }
}

/** The batch size of the evaluation after each epoch (and of the final model's, in the CLI). */
export function evaluationBatchSize(options: Pick<TrainOptions, 'batch'>): number {
  return Math.max(options.batch, 64);
}

/** Progress lines (stderr, unless `quiet`). */
type Log = (text: string) => void;

/** What a run carries from epoch to epoch. */
interface RunState {
  model: FerModel;
  optimizer: AnyOptimizer;
  scheduler: StepLR;
  average: WeightAverage | null;
  history: EpochRecord[];
  bestAccuracy: number;
  epochsDone: number;
  /** Steps taken in this process (for `maxSteps`). */
  steps: number;
  meta: TrainingMeta | null;
}

/** Refuses a recipe that would train on nothing, or on a loss or gradient turned around: a run without a
 *  step ends with a NaN loss and accuracy, a negative loss weight or max norm trains away from the labels. */
function checkOptions(options: TrainOptions, data: TrainingData): void {
  const { classNames } = data;
  if (classNames.length !== options.model.config.numClasses) {
    throw new Error(`the data has ${classNames.length} classes (${classNames.join(', ')}), the model --classes ${options.model.config.numClasses}`);
  }
  for (const name of ['epochs', 'batch'] as const) {
    if (!Number.isInteger(options[name]) || options[name] < 1) throw new Error(`${name} must be a positive integer, got ${options[name]}`);
  }
  for (const name of ['alpha', 'beta'] as const) {
    if (!(options[name] >= 0)) throw new Error(`the loss weight ${name} must be a number >= 0, got ${options[name]}`);
  }
  if (options.alpha === 0 && options.beta === 0 && !family(options.model.name).ignoredOptions.includes('alpha')) throw new Error('the loss weights alpha and beta are both 0: the loss would be 0 and nothing would train');
  // The generators keep 32 bits of a seed (Generator.manualSeed): a larger one would repeat a smaller one's run.
  if (!(Number.isInteger(options.seed) && options.seed >= 0 && options.seed <= 2 ** 32 - 1)) {
    throw new Error(`seed must be an integer in 0..${2 ** 32 - 1}, got ${options.seed}`);
  }
  const initialWeights = INITIAL_WEIGHTS.filter(([key]) => options[key] !== undefined);
  if (initialWeights.length > 1) {
    throw new Error(`${initialWeights.map(([, option]) => option).join(' and ')} given together: each sets the initial weights, ` +
      `the later overwriting the earlier; give one of them`);
  }
  if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
    throw new Error(`clipGradNorm must be a max norm > 0, got ${options.clipGradNorm}`);
  }
  const steps = stepsPerEpoch(data.train.length, options.batch);
  if (steps === 0) {
    throw new Error(`the training split has ${data.train.length} image(s): at batch ${options.batch} no training step would run ` +
      `(a last batch of a single image is dropped); give more training images or a smaller batch`);
  }
  if (data.test.length === 0) throw new Error('the test split has no images: the accuracy after each epoch would be NaN');
  const from = options.averageFrom;
  if (from !== undefined && (!Number.isInteger(from) || from < 1 || from > options.epochs)) {
    throw new Error(`averageFrom must be an epoch from 1 to ${options.epochs} (the last), got ${from}`);
  }
}

/** The options that set initial weights, each with its CLI name. */
const INITIAL_WEIGHTS = [['checkpoint', '--checkpoint'], ['initTrunks', '--init-trunks'], ['initFrom', '--init-from']] as const;

/** A fresh model with its initial weights, or with `resume` the state of the last checkpoint. */
async function startingState(options: TrainOptions, data: TrainingData, log: Log): Promise<RunState> {
  manualSeed(options.seed);
  const model = createModel(options.model);
  await loadInitialWeights(model, options, log);
  const optimizer = familyOf(model).optimizer(model, options);
  const scheduler = new StepLR(optimizer, { stepSize: options.stepSize, gamma: options.gamma });
  const average = options.averageFrom === undefined ? null : new WeightAverage(model.namedParameters());
  const run: RunState = { model, optimizer, scheduler, average, history: [], bestAccuracy: -1, epochsDone: 0, steps: 0, meta: null };
  const lastPath = path.join(options.out, 'last.safetensors');
  if (options.resume && existsSync(lastPath)) await resumeFrom(lastPath, run, options, data, log);
  else if (options.resume) log(`--resume: no ${lastPath} yet, starting from scratch`);
  return run;
}

async function loadInitialWeights(model: FerModel, options: TrainOptions, log: Log): Promise<void> {
  if (options.checkpoint) {
    const { state, ignored } = await loadWeights(options.checkpoint, familyOf(model).ignoredPrefixes);
    model.loadStateDict(state);
    if (ignored.length) log(`${options.checkpoint}: ignored ${ignored.length} unused entries (${ignored[0]}, ...)`);
  }
  if (options.initTrunks) {
    const { state: resnet } = await loadWeights(options.initTrunks);
    log(`${options.initTrunks}: ${familyOf(model).loadBackbone(model, resnet, options.initTrunks)}`);
  }
  if (options.initFrom) {
    const { state } = await loadWeights(options.initFrom, familyOf(model).ignoredPrefixes);
    const loaded = familyOf(model).loadAllButClassHeads(model, state, options.initFrom);
    log(`${options.initFrom}: ${loaded}`);
  }
}

/** Weights, optimizer, scheduler, average and history from `lastPath`, which must hold this recipe. */
async function resumeFrom(lastPath: string, run: RunState, options: TrainOptions, data: TrainingData, log: Log): Promise<void> {
  const saved = await loadCheckpoint<TrainingMeta>(lastPath);
  if (!saved.meta) throw new Error(`${lastPath}: not a training checkpoint (no pcnn metadata)`);
  const savedSpec = { name: saved.meta.model ?? 'pcnn', config: saved.meta.config };
  checkSameRecipe(lastPath, { model: savedSpec, ...saved.meta.recipe }, { model: options.model, ...recipeOf(options) });
  checkSameData(lastPath, saved.meta, data);
  run.model.loadStateDict(saved.model);
  saved.restore(run.optimizer, run.scheduler);
  run.meta = saved.meta;
  ({ bestAccuracy: run.bestAccuracy, epoch: run.epochsDone } = saved.meta);
  // Checkpoints of PCNN alone named the auxiliary rule's accuracy `headsAccuracy`.
  run.history = saved.meta.history.map((h) => ({ ...h, auxiliaryAccuracy: h.auxiliaryAccuracy ?? (h as { headsAccuracy?: number }).headsAccuracy! }));
  if (run.average && saved.average) run.average.loadStateDict(saved.average);
  else if (run.average && run.epochsDone >= options.averageFrom!) {
    throw new Error(`--resume: ${lastPath} holds no weight average, but averaging starts at epoch ${options.averageFrom} and ${run.epochsDone} are done`);
  }
  log(`resumed from ${lastPath} after epoch ${run.epochsDone}`);
}

function checkSameData(lastPath: string, saved: TrainingMeta, data: TrainingData): void {
  const now = dataSummary(data);
  const described = (d: DataSummary) => `${d.name === undefined ? '' : `${d.name}, `}${d.trainImages} training and ${d.testImages} test images`;
  const sameName = saved.data?.name === undefined || now.name === undefined || saved.data.name === now.name;
  if (saved.data && (!sameName || saved.data.trainImages !== now.trainImages || saved.data.testImages !== now.testImages)) {
    throw new Error(
      `--resume: ${lastPath} was trained on ${described(saved.data)}; this run has ${described(now)} (another --data, ` +
        `--fold or --last-frame?); use another --out for a new run`,
    );
  }
  if (saved.classNames.join() !== data.classNames.join()) {
    throw new Error(`--resume: ${lastPath} has classes [${saved.classNames}], this run's data [${data.classNames}]; use another --out for a new run`);
  }
}

function recipeOf(options: TrainOptions): Recipe {
  return Object.fromEntries(RECIPE_KEYS.map((k) => [k, options[k]])) as Recipe;
}

/** Whether the last batch is dropped: one sample would make batch-norm statistics degenerate (PyTorch raises there). */
function dropsLastBatch(images: number, batch: number): boolean {
  return images % batch === 1;
}

function stepsPerEpoch(images: number, batch: number): number {
  return dropsLastBatch(images, batch) ? Math.floor(images / batch) : Math.ceil(images / batch);
}

export function trainingLoader(train: Dataset, options: TrainOptions): DataLoader {
  const { trainingSet, augment, evalTransform } = family(options.model.name);
  return new DataLoader(trainingSet(train, { seed: options.seed, config: options.model.config, augment: options.augment }), {
    batchSize: options.batch,
    shape: sampleShape(options.model.name, options.model.config),
    shuffle: true,
    seed: options.seed,
    dropLast: dropsLastBatch(train.length, options.batch),
    // Without augmentation the images are still normalised as the model is given them at test time.
    transform: options.augment ? augment ?? evalTransform : evalTransform,
  });
}

/** Whether another epoch, at the last one's pace, would end past the time limit (the first of this
 *  process always runs). */
function pastTimeLimit(options: TrainOptions, run: RunState, epoch: number, started: number): boolean {
  if (options.timeLimitMinutes === undefined || epoch === run.epochsDone) return false;
  return secondsSince(started) + (run.history.at(-1)?.seconds ?? 0) > 60 * options.timeLimitMinutes;
}

/** Loss and accuracy over the batches of an epoch that were stepped. */
interface EpochTally {
  lossSum: number;
  correct: number;
  seen: number;
}

/** One epoch of steps, with a progress bar; stops early at `maxSteps`. */
/** The default generator's stream for the model's own draws in training (dropout masks, FERAtt's
 *  clean-face choice), restarted each epoch. */
const MODEL_STREAM = 0x6d6f646c;

async function runEpoch(run: RunState, loader: DataLoader, epoch: number, options: TrainOptions, log: Log): Promise<EpochTally> {
  const epochStart = performance.now();
  pool.resetPeak();
  run.model.train();
  // What the model draws during an epoch is then a function of (seed, epoch), as the data's order and
  // augmentation are: a run resumed at an epoch boundary draws what the uninterrupted run drew.
  manualSeed(mixSeed(options.seed, epoch, MODEL_STREAM));
  const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, loader.length);
  const tally: EpochTally = { lossSum: 0, correct: 0, seen: 0 };
  let settled = 0;
  // One step in flight: the next batch is recorded before the previous step's loss is awaited.
  let inFlight: { result: Promise<StepResult>; labels: Int32Array } | null = null;
  const settle = async () => {
    if (!inFlight) return;
    const { loss, logits } = await inFlight.result;
    if (!Number.isFinite(loss)) {
      throw new Error(`training diverged: loss ${loss} at epoch ${epoch + 1}, batch ${settled + 1} (--nan-guard stop names the op that produced it)`);
    }
    const predicted = argmaxRows(logits, options.model.config.numClasses);
    tally.lossSum += loss * inFlight.labels.length;
    tally.correct += predicted.reduce((s, p, i) => s + (p === inFlight!.labels[i] ? 1 : 0), 0);
    tally.seen += inFlight.labels.length;
    settled++;
    const rate = tally.seen / secondsSince(epochStart);
    bar.update(settled, { loss: (tally.lossSum / tally.seen).toFixed(3), acc: `${((100 * tally.correct) / tally.seen).toFixed(1)}%`, 'img/s': rate.toFixed(0) });
    inFlight = null;
  };
  let skipped = 0;
  let batchNumber = 0;
  for await (const batch of loader.epoch(epoch)) {
    batchNumber++;
    checkLabels(batch.y, options.model.config.numClasses);
    const stepped = await step(run, batch, options);
    if ('skipped' in stepped) {
      skipped++;
      log(`epoch ${epoch + 1}, batch ${batchNumber}: skipped a step with a non-finite loss or gradient, first produced by ${stepped.skipped}`);
      continue;
    }
    await settle();
    inFlight = { result: stepped.result, labels: batch.y };
    if (options.maxSteps !== undefined && ++run.steps >= options.maxSteps) break;
  }
  await settle();
  if (skipped) log(`epoch ${epoch + 1}: ${skipped} step(s) skipped by the NaN guard`);
  return tally;
}

/** One training step, recorded; its result resolves when the GPU is done. Under the NaN guard the step
 *  is checked first, and one it skips comes back as the name of the op that made a NaN or an infinity. */
async function step(run: RunState, batch: Batch, options: TrainOptions): Promise<{ result: Promise<StepResult> } | { skipped: string }> {
  const stepOptions = { alpha: options.alpha, beta: options.beta, clipGradNorm: options.clipGradNorm };
  const guard = options.nanGuard ?? 'off';
  if (guard === 'off') return { result: trainStep(run.model, run.optimizer, batch, stepOptions) };
  const guarded = await guardedTrainStep(run.model, run.optimizer, batch, { ...stepOptions, onNonFinite: guard });
  return guarded.skipped ? { skipped: guarded.skipped } : { result: Promise.resolve(guarded) };
}

/** The scheduler's and the weight average's end of an epoch; returns the learning rate it used. */
function endEpoch(run: RunState, epoch: number, options: TrainOptions): number {
  const lr = run.optimizer.paramGroups[0].lr;
  run.scheduler.step();
  if (run.average && epoch + 1 >= options.averageFrom!) run.average.update();
  return lr;
}

function epochRecord(epoch: number, lr: number, tally: EpochTally, test: Evaluation, trainSeconds: number, seconds: number): EpochRecord {
  return {
    epoch: epoch + 1,
    lr,
    trainLoss: tally.lossSum / tally.seen,
    trainAccuracy: tally.correct / tally.seen,
    testAccuracy: test.main.accuracy,
    auxiliaryAccuracy: test.auxiliaryAccuracy,
    imagesPerSecond: tally.seen / trainSeconds,
    seconds,
    poolPeakMiB: pool.memory().peakBytesInUse / 2 ** 20,
  };
}

function logEpoch(record: EpochRecord, auxiliaryRule: string, log: Log): void {
  log(
    `epoch ${record.epoch}: loss ${record.trainLoss.toFixed(4)}, train ${pct(record.trainAccuracy)}, ` +
      `test ${pct(record.testAccuracy)} (${auxiliaryRule} ${pct(record.auxiliaryAccuracy)}), ${record.imagesPerSecond.toFixed(0)} img/s`,
  );
}

/** last.safetensors (with the optimizer, the scheduler and the average, to resume from), and
 *  best.safetensors when the epoch's test accuracy is the best so far. */
async function saveCheckpoints(run: RunState, record: EpochRecord, options: TrainOptions, data: TrainingData): Promise<void> {
  const { model, optimizer, scheduler, average } = run;
  const meta: TrainingMeta = {
    model: options.model.name,
    config: options.model.config,
    classNames: data.classNames,
    epoch: record.epoch,
    bestAccuracy: Math.max(run.bestAccuracy, record.testAccuracy),
    history: run.history,
    recipe: recipeOf(options),
    data: dataSummary(data),
  };
  await saveCheckpoint(path.join(options.out, 'last.safetensors'), { model, meta, optimizer, scheduler, ...(average?.count ? { average: average.stateDict() } : {}) });
  run.meta = meta;
  if (record.testAccuracy > run.bestAccuracy) {
    run.bestAccuracy = record.testAccuracy;
    await saveCheckpoint(path.join(options.out, 'best.safetensors'), { model, meta });
  }
}

function writeLogAndCurves(out: string, history: EpochRecord[], auxiliaryRule: string): void {
  writeFileAtomic(path.join(out, 'log.jsonl'), new TextEncoder().encode(history.map((h) => JSON.stringify(h)).join('\n') + '\n'));
  writeCurves(out, history, auxiliaryRule);
}

function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

function writeCurves(out: string, history: EpochRecord[], auxiliaryRule: string): void {
  const loss = lineChart('training loss', 'epoch', [{ name: 'train loss', points: history.map((h) => [h.epoch, h.trainLoss]) }]);
  const accuracy = lineChart('accuracy (%)', 'epoch', [
    { name: 'train', points: history.map((h) => [h.epoch, 100 * h.trainAccuracy]) },
    { name: 'test', points: history.map((h) => [h.epoch, 100 * h.testAccuracy]) },
    { name: `test, ${auxiliaryRule}`, points: history.map((h) => [h.epoch, 100 * h.auxiliaryAccuracy]) },
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
