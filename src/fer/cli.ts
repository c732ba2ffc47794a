/**
 * `pcnn` command line: train, eval, predict, info, cv. Each command accepts the options it uses (tables
 * of args.ts combined below), and refuses one that its data or checkpoint leaves unused; `pcnn <command>
 * --help` lists them. Errors are printed as one line (no stack) with exit 1.
 */
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { init, release, gpu } from '../engine/device.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { flush } from '../engine/recorder.js';
import { checkpointOptions, dataOptions, helpOption, helpText, modelOptions, parseArgs, type OptionSpecs, type ParsedOptions } from './args.js';
import { checkSameRecipe } from './recipe.js';
import { requireImages, resolveData } from './datasets.js';
import { train, evaluationBatchSize, makeOutputFolder, type TrainOptions, type TrainResult, type TrainingMeta } from './train.js';
import { compositedTestSet, evaluate } from './evaluate.js';
import { finishTraining } from './recalibrate.js';
import { formatReport, pct } from './metrics.js';
import { confusionMatrixChart } from './plot.js';
import { REGISTRATIONS, type Registration } from '../pcnn/model.js';
import { createModel, family, familyOf, parameterCount, inputShape, type FerModel, type ModelSpec } from './families.js';
import { ckplusClips } from './data/clips.js';
import type { ARPGNetOptions } from '../arpgnet/config.js';
import { loadCheckpoint, loadWeights, saveCheckpoint, withSavedDefaults } from './checkpoint.js';
import {
  occludeRegion, occludePatch, rotateBy, EYES, MOUTH, subjectFolds, subjectSplit, ckplus48,
  type Transform, type Dataset,
} from './data/index.js';

/** What cv trains with in each fold (its data is a subject-wise folder, its folds all of --folds). */
const cvOptions = {
  ...modelOptions,
  ...dataOptions,
  ...checkpointOptions,
  epochs: { type: 'int', default: 8, range: 'positive', help: 'training epochs' },
  lr: { type: 'number', default: 0.01, range: 'positive', help: 'learning rate (SGD for PCNN; --model feratt and arpgnet use Adam, their defaults 1e-4 and 1e-3)' },
  resume: { type: 'flag', help: 'continue from <out>/last.safetensors (same weights, optimizer, scheduler, data order); the recipe must be the saved one, and the data (folder and fold, sizes, classes)' },
  momentum: { type: 'number', default: 0.9, range: 'non-negative', help: 'SGD momentum' },
  'weight-decay': { type: 'number', default: 1e-4, range: 'non-negative', help: 'SGD weight decay (L2 penalty; FERAtt: 0, as its official Adam)' },
  'step-size': { type: 'int', default: 10, range: 'positive', help: 'StepLR period in epochs' },
  gamma: { type: 'number', default: 0.5, range: 'positive', help: 'StepLR factor' },
  // A negative weight would train the head away from the labels.
  alpha: { type: 'number', default: 12, range: 'non-negative', help: 'weight of CE(main head)' },
  beta: { type: 'number', default: 8, range: 'non-negative', help: 'weight of CE(sum of sense heads)' },
  'no-augment': { type: 'flag', help: 'train without augmentation' },
  'max-steps': { type: 'int', range: 'positive', help: 'stop after this many steps (smoke tests)' },
  'init-trunks': {
    type: 'string',
    help: 'torchvision ResNet state dict (.pth or .safetensors): PCNN: a ResNet-18 for the six trunks and layer4; FERAtt: a ResNet-34 for the attention encoder; ARPGNet: a ResNet-18 for its trunk',
  },
  'init-from': { type: 'string', help: 'a checkpoint of the same --model (ours or a .pth) trained on other data: every weight but the class heads (fine-tuning)' },
  'time-limit': { type: 'number', range: 'positive', help: 'minutes of training: no epoch is started that would end past them' },
  'average-from': { type: 'int', range: 'positive', help: 'average the weights from the end of this epoch on (SWA); the final model is the average, its BatchNorm statistics re-estimated' },
  'per-path-bn': { type: 'flag', help: "PCNN: at the end, re-estimate BatchNorm statistics with layer4's kept apart for its two inputs (x10, x1 + x11)" },
  'recalibrate-bn': {
    type: 'flag',
    help: "at the end, re-estimate every BatchNorm's statistics on the training data without augmentation, weights fixed (PyTorch's update_bn; " +
      'FERAtt: on its composites, the classifier fed the attended face only); --average-from and --per-path-bn do it already',
  },
  // A max norm of 0 or below would zero the gradients or flip their sign.
  'clip-grad-norm': { type: 'number', range: 'positive', help: 'clip gradients to this total 2-norm' },
  'nan-guard': { type: 'string', default: 'off', help: "'stop' or 'skip': check loss and gradients each step, name the op that made a NaN/Inf" },
  folds: { type: 'int', default: 10, range: 'positive', help: 'number of subject-wise folds' },
  'last-frame': { type: 'flag', help: "CK+48: only each sequence's last frame (index.csv's sequence and frame columns), one image per sequence" },
  // No default: cv reads only a subject-wise folder (the synthetic set has no subjects).
  data: { type: 'string', help: 'a CK+48-style folder: class folders and an index.csv with columns path, label, subject (required)' },
} satisfies OptionSpecs;

/** Which data set, and which split of it. */
const splitOptions = {
  ...dataOptions,
  // The layouts resolveData (src/fer/datasets.ts) recognises, listed where train and eval take --data.
  data: {
    ...dataOptions.data,
    help: "'synthetic' (built in); a FER2013 .csv (Training / PublicTest+PrivateTest); a folder with train/ and test/ class folders; " +
      'a CK+48-style folder with index.csv (split by subject, --fold/--folds); FERPlus (FER2013Train/, FER2013Test/ with label.csv: ' +
      'majority labels, 8 classes, --classes 8; FER2013Valid/ unused); RAF-DB basic (EmoLabel/list_patition_label.txt, Image/aligned/: ' +
      'its train/test split); or any class-per-folder image folder (seeded 80/20 split). Larger images are resized with antialiasing',
  },
  'synthetic-count': { type: 'int', default: 2100, range: 'positive', help: 'training images of the synthetic set' },
  fold: { type: 'int', default: 0, range: 'non-negative', help: 'test fold, for subject-wise folders (CK+48)' },
  'last-frame': cvOptions['last-frame'],
  folds: { type: 'int', default: 10, range: 'positive', help: 'number of subject-wise folds' },
} satisfies OptionSpecs;

const trainOptions = { ...cvOptions, ...splitOptions } satisfies OptionSpecs;

const evalOptions = {
  ...modelOptions,
  ...checkpointOptions,
  ...splitOptions,
  robustness: { type: 'flag', help: 'also evaluate occluded eyes/mouth, a random patch, rotations of 30 and 45 degrees' },
  composited: { type: 'flag', help: 'also evaluate the test faces pasted onto backgrounds (seeded by --seed; FERAtt\'s claim)' },
} satisfies OptionSpecs;

const predictOptions = { ...modelOptions, ...checkpointOptions } satisfies OptionSpecs;

type ModelOptions = ParsedOptions<typeof modelOptions>;
type CvCommandOptions = ParsedOptions<typeof cvOptions>;
type TrainCommandOptions = ParsedOptions<typeof trainOptions>;

/** The model the options describe, for batches of `batch` images (whose size is checked against the adapter). */
function modelSpec(o: ModelOptions, batch: number): ModelSpec {
  const size = o['input-size'];
  const { name, configFromOptions, clipFrames } = family(o.model);
  const clip = clipOptions(o);
  const given = Object.keys(clip);
  if (given.length && name !== 'arpgnet') {
    throw new Error(`${given.map((k) => `--${CLIP_OPTIONS[k as keyof typeof CLIP_OPTIONS]}`).join(', ')}: for --model arpgnet (a model of clips), not --model ${name}`);
  }
  const registration = o.registration;
  if (registration !== undefined) {
    if (name !== 'pcnn') throw new Error(`--registration: for --model pcnn (its multi-domain interaction), not --model ${name}`);
    if (!(REGISTRATIONS as readonly string[]).includes(registration)) {
      throw new Error(`--registration must be one of ${REGISTRATIONS.join(', ')}, got '${registration}'`);
    }
  }
  const config = configFromOptions({ inputSize: size, inChannels: o['in-channels'], width: o.width, classes: o.classes, clip, registration: registration as Registration | undefined });
  checkInputSize(size, o['in-channels'], batch * (clipFrames(config) ?? 1));
  return { name, config } as ModelSpec;
}

/** ARPGNet's configuration fields and their CLI options. */
const CLIP_OPTIONS = {
  frames: 'frames', grid: 'grid', neighbours: 'neighbours', symmetry: 'no-symmetry', relationStage: 'relation-stage', dim: 'dim', heads: 'heads',
  fusion: 'fusion', position: 'position', cross: 'cross', branches: 'branches',
} as const;

/** The clip-model options given (ARPGNet's), as configuration fields. */
function clipOptions(o: ModelOptions): ARPGNetOptions {
  const clip: Record<string, unknown> = {};
  for (const [field, option] of Object.entries(CLIP_OPTIONS)) {
    const value = o[option];
    if (option === 'no-symmetry') {
      if (value) clip.symmetry = false;
    } else if (value !== undefined) {
      clip[field] = value;
    }
  }
  return clip as ARPGNetOptions;
}

/** T of the model's clips, for the data; undefined for a model of still images. */
function framesOf(spec: { name: string; config: ModelSpec['config'] }): number | undefined {
  return family(spec.name).clipFrames(spec.config) ?? undefined;
}

/**
 * Refuses an --input-size whose batch of images cannot be one storage buffer on this adapter (a tensor is
 * one buffer, bound whole), before any image of that size is allocated: the model's input is the
 * smallest tensor of that size it makes, so a size past this bound cannot run at all (one within it may
 * still meet the bound in a larger activation, which the engine reports by op).
 */
function checkInputSize(size: number, channels: number, batch: number): void {
  const { maxStorageBufferBindingSize, maxBufferSize } = gpu().limits;
  const limit = Math.min(maxStorageBufferBindingSize, maxBufferSize);
  const bytes = Float32Array.BYTES_PER_ELEMENT * batch * channels * size * size;
  if (bytes <= limit) return;
  const largest = Math.floor(Math.sqrt(limit / (Float32Array.BYTES_PER_ELEMENT * batch * channels)));
  throw new Error(`--input-size ${size} is too large: a batch of ${batch} image(s) of ${size}x${size}x${channels} floats is ${bytes} bytes, ` +
    `more than one storage buffer of this adapter holds (${limit} bytes, ` +
    `its ${limit === maxBufferSize && limit < maxStorageBufferBindingSize ? 'maxBufferSize' : 'maxStorageBufferBindingSize'}); ` +
    `expected at most ${largest} at batch ${batch}`);
}

function trainConfig(o: CvCommandOptions, out: string): TrainOptions {
  return {
    model: modelSpec(o, evaluationBatchSize(o)),
    batch: o.batch,
    epochs: o.epochs,
    lr: o.lr,
    momentum: o.momentum,
    weightDecay: o['weight-decay'],
    stepSize: o['step-size'],
    gamma: o.gamma,
    alpha: o.alpha,
    beta: o.beta,
    seed: o.seed,
    augment: !o['no-augment'],
    out,
    checkpoint: o.checkpoint,
    resume: o.resume,
    maxSteps: o['max-steps'],
    clipGradNorm: o['clip-grad-norm'],
    initTrunks: o['init-trunks'],
    initFrom: o['init-from'],
    timeLimitMinutes: o['time-limit'],
    averageFrom: o['average-from'],
    nanGuard: nanGuardMode(o['nan-guard']),
  };
}

function nanGuardMode(value: string): 'off' | 'stop' | 'skip' {
  if (value === 'off' || value === 'stop' || value === 'skip') return value;
  throw new Error(`--nan-guard must be off, stop or skip, got '${value}'`);
}

function dataChoice(o: ParsedOptions<typeof splitOptions & typeof modelOptions>) {
  return {
    data: o.data,
    inputSize: o['input-size'],
    inChannels: o['in-channels'],
    seed: o.seed,
    fold: o.fold,
    folds: o.folds,
    syntheticCount: o['synthetic-count'],
    masks: family(o.model).needsMasks,
    lastFrame: o['last-frame'],
  };
}

/** The options given that the chosen data does not read: --synthetic-count but for the synthetic set,
 *  --fold and --folds but for a subject-wise folder (resolveData's choice: an index.csv, no train/ and test/). */
function checkSplitOptionsUsed(o: { data: string }, given: ReadonlySet<string>): void {
  const synthetic = o.data === 'synthetic';
  const subjectWise = !synthetic && existsSync(path.join(o.data, 'index.csv')) &&
    !(existsSync(path.join(o.data, 'train')) && existsSync(path.join(o.data, 'test')));
  const unused = [...(synthetic ? [] : ['synthetic-count']), ...(subjectWise ? [] : ['fold', 'folds', 'last-frame'])].filter((name) => given.has(name));
  if (unused.length) {
    throw new Error(`${unused.map((name) => `--${name}`).join(', ')} not used with --data ${o.data} ` +
      `(--synthetic-count is for --data synthetic, --fold, --folds and --last-frame for a subject-wise folder with an index.csv)`);
  }
}

/** Refuses recipe options that the --model's loss and optimizer do not read (FERAtt's fixed loss weights, say). */
function checkRecipeOptionsUsed(o: { model: string }, given: ReadonlySet<string>): void {
  const unused = family(o.model).ignoredOptions.filter((name) => given.has(name));
  if (unused.length) {
    throw new Error(`${unused.map((name) => `--${name}`).join(', ')} not used by --model ${o.model} (its loss and optimizer do not read them); leave them out`);
  }
}

async function cmdTrain(o: TrainCommandOptions, given: ReadonlySet<string>): Promise<void> {
  checkSplitOptionsUsed(o, given);
  checkRecipeOptionsUsed(o, given);
  finishes(o); // refuses a finish the model cannot have, before any training
  const config = trainConfig(o, o.out);
  makeOutputFolder(o.out, '--out');
  const data = resolveData({ ...dataChoice(o), frames: framesOf(config.model) });
  reportSkipped(data.skipped);
  requireImages(data, 'train');
  requireImages(data, 'test');
  const { title } = family(config.model.name);
  const { width, inputSize, inChannels } = config.model.config;
  console.error(`training ${title} (width ${width}, ${inputSize.join('x')}x${inChannels}) on ${data.name}: ` +
    `${data.train.length} train / ${data.test.length} test images, adapter ${describeAdapter()}`);
  const result = await train(config, data);
  const final = result.history.at(-1);
  if (final) {
    console.log(`done in ${result.seconds.toFixed(0)} s: test accuracy ${pct(final.testAccuracy)} ` +
      `(best ${pct(Math.max(...result.history.map((h) => h.testAccuracy)))}); ` +
      `checkpoints, log.jsonl and curves in ${config.out}`);
  }
  if (result.last) console.log(formatReport(result.last.main, data.classNames));
  if (result.meta && finishes(o)) {
    const evaluation = await finishAndEvaluate(result, config, data, o);
    const file = path.join(config.out, 'final.safetensors');
    const { auxiliaryRule, extraState } = familyOf(result.model);
    await saveCheckpoint(file, { model: result.model, meta: result.meta, registration: extraState(result.model) });
    console.log(`final model (${describeFinish(o)}): test accuracy ${pct(evaluation.main.accuracy)}, ${auxiliaryRule} ` +
      `${pct(evaluation.auxiliaryAccuracy)}, mirrored ensemble ${pct(evaluation.ensembleAccuracy!)}; saved as ${file}`);
  }
  result.average?.dispose();
  result.model.dispose();
}

/** A model with the configuration stored in one of our checkpoints (which refuses model options given,
 *  as they would not be used, and a --model other than the one it holds), else from the options. */
async function loadModel(o: ModelOptions & ParsedOptions<typeof checkpointOptions>, given: ReadonlySet<string>, batch: number): Promise<{ model: FerModel; classNames?: string[] }> {
  const file = o.checkpoint;
  if (!file) throw new Error('a --checkpoint is required (a .safetensors of ours, or a PyTorch .pth)');
  let spec: ModelSpec;
  let classNames: string[] | undefined;
  const ours = file.endsWith('.safetensors') ? await loadCheckpoint<TrainingMeta>(file) : null;
  if (ours?.meta) {
    const { config, model: name = 'pcnn' } = ours.meta;
    classNames = ours.meta.classNames;
    spec = { name, config } as ModelSpec;
    if (given.has('model') && o.model !== name) {
      throw new Error(`--model ${o.model}: ${file} holds a ${family(name).title} model (--model ${name}); leave --model out, the checkpoint names its model`);
    }
    const unused = Object.keys(modelOptions).filter((option) => option !== 'help' && option !== 'model' && given.has(option));
    if (unused.length) {
      throw new Error(`${unused.map((option) => `--${option}`).join(', ')} not used: ${file} holds its model configuration ` +
        `(--input-size ${config.inputSize[0]}, --in-channels ${config.inChannels}, --width ${config.width}, --classes ${config.numClasses}` +
        `${'registration' in config ? `, --registration ${config.registration}` : ''}); leave them out`);
    }
  } else {
    spec = modelSpec(o, batch);
  }
  const model = createModel(spec);
  const { ignoredPrefixes, loadExtraState } = familyOf(model);
  const { state, ignored } = await loadWeights(file, ignoredPrefixes);
  model.loadStateDict(state);
  if (ours?.registration) loadExtraState(model, ours.registration, file);
  if (ignored.length) console.error(`${file}: ignored ${ignored.length} entries not used by the model (${ignored.slice(0, 3).join(', ')}, ...)`);
  return { model: model.eval(), classNames };
}

async function cmdEval(o: ParsedOptions<typeof evalOptions>, given: ReadonlySet<string>): Promise<void> {
  checkSplitOptionsUsed(o, given);
  // Before the work: the results are written at its end.
  makeOutputFolder(o.out, '--out');
  const { model, classNames: saved } = await loadModel(o, given, o.batch);
  const data = resolveData({ ...dataChoice(o), inputSize: model.config.inputSize[0], inChannels: model.config.inChannels, frames: framesOf({ name: familyOf(model).name, config: model.config }) });
  reportSkipped(data.skipped);
  requireImages(data, 'test');
  checkSameClasses(o.checkpoint!, saved, model.config.numClasses, data);
  const classNames = saved ?? data.classNames;
  const variants: [string, Transform | undefined][] = [['clean', undefined]];
  if (o.robustness) {
    const { evalTransform } = familyOf(model);
    const norm = (f: (img: Float32Array, s: readonly [number, number, number]) => Float32Array): Transform => (img, s, g) => evalTransform(f(img, s), s, g);
    variants.push(
      ['occluded eyes', norm((img, s) => occludeRegion(img, s, EYES))],
      ['occluded mouth', norm((img, s) => occludeRegion(img, s, MOUTH))],
      ['random patch 25%', norm((img, s) => occludePatch(img, s, 0.25, o.seed))],
      ['rotated 30', norm((img, s) => rotateBy(img, s, 30))],
      ['rotated 45', norm((img, s) => rotateBy(img, s, 45))],
    );
  }
  const results: Record<string, number> = {};
  const sets: [string, Dataset, Transform | undefined][] = variants.map(([name, transform]) => [name, data.test, transform]);
  if (o.composited) sets.push(['composited', compositedTestSet(data.test, model, o.seed), undefined]);
  for (const [name, test, transform] of sets) {
    const result = await evaluate(model, test, { batchSize: o.batch, transform });
    results[name] = result.main.accuracy;
    if (name === 'clean') {
      console.log(formatReport(result.main, classNames));
      console.log(`${familyOf(model).auxiliaryRule} alone: ${pct(result.auxiliaryAccuracy)}`);
      writeFileAtomic(path.join(o.out, 'confusion.png'), confusionMatrixChart(result.main.confusion, classNames, `${data.name}: ${(100 * result.main.accuracy).toFixed(1)}%`));
      writeFileAtomic(path.join(o.out, 'eval.json'), new TextEncoder().encode(JSON.stringify({ data: data.name, ...result }, null, 1)));
    } else {
      console.log(`${name.padEnd(18)} ${pct(result.main.accuracy)}`);
    }
  }
  console.error(`confusion matrix and eval.json written to ${o.out}`);
  model.dispose();
}

/** Refuses data whose classes are not the checkpoint's, by name where it has them (else by count): label
 *  i of the data would be scored as the model's class i. */
function checkSameClasses(file: string, saved: string[] | undefined, numClasses: number, data: { name: string; classNames: string[] }): void {
  const names = data.classNames;
  if (saved ? saved.join('\n') === names.join('\n') : names.length === numClasses) return;
  const model = saved ? `${saved.length} (${saved.join(', ')})` : `${numClasses} (names not stored)`;
  throw new Error(`the classes of ${data.name}, ${names.length} (${names.join(', ')}), are not those of ${file}, ${model}`);
}

async function cmdPredict(o: ParsedOptions<typeof predictOptions>, given: ReadonlySet<string>, images: string[]): Promise<void> {
  if (!images.length) throw new Error('give one or more image files');
  makeOutputFolder(o.out, '--out');
  const { model, classNames } = await loadModel(o, given, images.length);
  const names = classNames ?? [...Array(model.config.numClasses).keys()].map((i) => `class ${i}`);
  const results = await familyOf(model).predictImages(model, images, names, o.out);
  for (const r of results) {
    const ranked = r.probabilities.map((p, i) => [names[i], p] as const).sort((a, b) => b[1] - a[1]);
    console.log(`${r.file}: ${ranked[0][0]} (${(100 * ranked[0][1]).toFixed(1)}%)  ` +
      ranked.slice(1).map(([n, p]) => `${n} ${(100 * p).toFixed(1)}%`).join(', ') + `  → ${r.png}`);
  }
  model.dispose();
}

async function cmdInfo(o: ModelOptions): Promise<void> {
  const { describe, paperConfig, create } = family(o.model);
  const spec = modelSpec(o, 1);
  const model = createModel(spec);
  console.log(`${describe(spec.config, () => parameterCount(model))}, inference latency ${(await inferenceLatency(model, 10)).toFixed(1)} ms at batch 1 (median of 10)`);
  model.dispose();
  const paperParameters = () => {
    const reference = create(paperConfig);
    try {
      return parameterCount(reference);
    } finally {
      reference.dispose();
    }
  };
  console.log(`${describe(paperConfig, paperParameters)} (the paper's configuration)`);
  console.log(`adapter: ${describeAdapter()}`);
}

async function inferenceLatency(model: FerModel, repeats: number): Promise<number> {
  model.eval();
  const shape = inputShape(model, 1);
  const x = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const { logits, auxiliary } = noGrad(() => tidy(() => familyOf(model).predict(model, x)));
    await Promise.all([logits.toArray(), auxiliary?.toArray()]);
    logits.dispose();
    auxiliary?.dispose();
    if (i > 0) times.push(performance.now() - t0); // the first run compiles pipelines
  }
  x.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function cmdCv(o: CvCommandOptions, given: ReadonlySet<string>): Promise<void> {
  checkRecipeOptionsUsed(o, given);
  const k = o.folds;
  const size = o['input-size'];
  const expected = 'a CK+48-style folder: class folders and an index.csv with columns path, label, subject';
  if (o.data === undefined) throw new Error(`--data is required: ${expected}`);
  if (!existsSync(path.join(o.data, 'index.csv'))) throw new Error(`--data ${o.data} has no index.csv; expected ${expected}`);
  const configs = Array.from({ length: k }, (_, fold) => trainConfig(o, path.join(o.out, `fold${fold}`)));
  makeOutputFolder(o.out, '--out');
  // Decoded once; each fold is a split of the same samples.
  const frames = framesOf(configs[0].model);
  if (o['last-frame'] && frames !== undefined) throw new Error(`--last-frame is for models of still images; --model ${o.model} reads CK+48's sequences as clips`);
  const images = { channels: o['in-channels'], size: [size, size] as const };
  const all = frames === undefined ? ckplus48(o.data, { ...images, lastFrame: o['last-frame'] }) : ckplusClips(o.data, frames, images);
  reportSkipped(all.skipped);
  subjectFolds(all.samples.map((s) => s.subject), k); // validates k against the subjects before any training
  const finishing = finishes(o);
  if (finishing) console.error(`final model: ${describeFinish(o)}`);
  const { auxiliaryRule } = family(o.model);
  const rules: Record<string, number[]> = {};
  for (let fold = 0; fold < k; fold++) {
    const config = configs[fold];
    const resultFile = path.join(config.out, 'result.json');
    const recipe = {
      ...config, out: undefined, resume: undefined, perPathBatchNorm: o['per-path-bn'],
      ...(o['recalibrate-bn'] ? { recalibrateBatchNorm: true } : {}), ...(o['last-frame'] ? { lastFrame: true } : {}),
    };
    let result: FoldResult;
    if (o.resume && existsSync(resultFile)) {
      result = readFoldResult(resultFile, fold, recipe, finishing);
    } else {
      const split = { ...subjectSplit(all.samples, k, fold), classNames: all.classNames };
      result = { fold, testImages: split.test.length, recipe, accuracies: await foldAccuracies(config, split, o) };
      writeFileAtomic(resultFile, new TextEncoder().encode(JSON.stringify(result, null, 1)));
    }
    for (const [rule, a] of Object.entries(result.accuracies)) (rules[rule] ??= []).push(a);
    const a = result.accuracies;
    console.log(
      `fold ${fold}: ${pct(a.main)} (${auxiliaryRule} ${pct(a.auxiliary)}, ensemble with mirror ${pct(a.ensemble)}, composited ${pct(a.composited)}` +
        (finishing ? `; final model ${pct(a.finalMain)}, ${auxiliaryRule} ${pct(a.finalAuxiliary)}, ensemble ${pct(a.finalEnsemble)}` : '') +
        (a.finalComposited === undefined ? '' : `, composited ${pct(a.finalComposited)}`) +
        `; ${result.testImages} test images)`,
    );
  }
  const summary = { folds: k, ...(finishing ? { final: describeFinish(o) } : {}), ...Object.fromEntries(Object.entries(rules).map(([rule, a]) => [rule, meanAndSpread(a)])) };
  writeFileAtomic(path.join(o.out, 'cv.json'), new TextEncoder().encode(JSON.stringify(summary, null, 1)));
  for (const [rule, a] of Object.entries(rules)) {
    const { mean, std } = meanAndSpread(a);
    const over = a.length === k ? 'folds' : `the ${a.length} of ${k} folds whose result has it`;
    const spread = a.length > 1 ? ` ± ${(100 * std).toFixed(2)} (mean ± std over ${over})` : ` (${over})`;
    console.log(`${k}-fold subject-wise cross-validation, ${cvRules(auxiliaryRule)[rule]}: ${pct(mean)}${spread}`);
  }
}

/** What `pcnn cv` reports per fold: at the last epoch, the classifier (PCNN's main head, the paper's
 *  rule), the family's auxiliary rule (PCNN's summed sense heads), the ensemble of both on each image
 *  and its mirror image (evaluate's `ensemble`), and the classifier on the test faces composited onto
 *  backgrounds; the same four for the final model when the recipe averages weights or re-estimates
 *  statistics. */
function cvRules(auxiliaryRule: string): Record<string, string> {
  return {
    main: 'classifier, last epoch',
    auxiliary: `${auxiliaryRule}, last epoch`,
    ensemble: 'mirrored ensemble, last epoch',
    composited: 'classifier on the test faces composited onto backgrounds, last epoch',
    finalMain: 'classifier, final model',
    finalAuxiliary: `${auxiliaryRule}, final model`,
    finalEnsemble: 'mirrored ensemble, final model',
    finalComposited: 'classifier on the test faces composited onto backgrounds, final model',
  };
}

/** A rule added after results were first saved: folds saved before it lack it, and the report says over how
 *  many folds it is taken. */
const OPTIONAL_RULE = 'finalComposited';

interface FoldResult {
  fold: number;
  testImages: number;
  recipe: object;
  accuracies: Record<string, number>;
}

/** The saved result of fold `fold` under `recipe`, refused naming the file and what is wrong when it is
 *  not one (damaged, edited, or written by another program): its numbers go into the report as they are. */
function readFoldResult(file: string, fold: number, recipe: object, finishing: boolean): FoldResult {
  const refuse = (problem: string): never => {
    throw new Error(`--resume: ${file} ${problem}; expected the result of fold ${fold} (remove the file to train the fold again)`);
  };
  let result: unknown;
  try {
    result = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return refuse(`is not valid JSON (${(error as Error).message})`);
  }
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return refuse('does not hold a JSON object');
  const { fold: savedFold, testImages, recipe: savedRecipe, accuracies } = result as Partial<Record<keyof FoldResult, unknown>>;
  if (savedFold !== fold) refuse(`holds fold ${JSON.stringify(savedFold)}`);
  if (!(Number.isInteger(testImages) && (testImages as number) > 0)) refuse(`has testImages ${JSON.stringify(testImages)}, not a positive integer`);
  if (typeof savedRecipe !== 'object' || savedRecipe === null) refuse('has no recipe object');
  const savedModel = (savedRecipe as { model?: { name?: string; config?: Record<string, unknown> } }).model;
  if (savedModel?.config) withSavedDefaults(savedModel.name, savedModel.config);
  checkSameRecipe(file, savedRecipe as object, recipe);
  const rules = Object.keys(cvRules('')).filter((rule) => finishing || !rule.startsWith('final'));
  for (const rule of rules) {
    const accuracy = (accuracies as Record<string, unknown> | undefined)?.[rule];
    if (rule === OPTIONAL_RULE && accuracy === undefined) continue;
    if (!(typeof accuracy === 'number' && accuracy >= 0 && accuracy <= 1)) refuse(`has accuracies.${rule} ${JSON.stringify(accuracy)}, not a number in 0..1`);
  }
  return result as FoldResult;
}

async function foldAccuracies(config: TrainOptions, split: { train: Dataset; test: Dataset; classNames: string[] }, o: CvCommandOptions): Promise<Record<string, number>> {
  const result = await train({ ...config, quiet: false }, split);
  const last = await evaluateRules(result.model, split.test, config);
  const accuracies: Record<string, number> = {
    main: last.main.accuracy, auxiliary: last.auxiliaryAccuracy, ensemble: last.ensembleAccuracy!, composited: await compositedAccuracy(result.model, split.test, config),
  };
  if (finishes(o)) {
    const final = await finishAndEvaluate(result, config, split, o);
    Object.assign(accuracies, {
      finalMain: final.main.accuracy, finalAuxiliary: final.auxiliaryAccuracy, finalEnsemble: final.ensembleAccuracy!,
      finalComposited: await compositedAccuracy(result.model, split.test, config),
    });
  }
  result.average?.dispose();
  result.model.dispose();
  return accuracies;
}

/** The classifier on `test`'s faces composited onto backgrounds (FERAtt's claim: compositedTestSet). */
async function compositedAccuracy(model: FerModel, test: Dataset, config: TrainOptions): Promise<number> {
  return (await evaluate(model, compositedTestSet(test, model, config.seed), { batchSize: evaluationBatchSize(config) })).main.accuracy;
}

/** The recipe's end (finishTraining: the average in, BatchNorm statistics re-estimated), then the
 *  classifier, the auxiliary rule and the mirrored ensemble on the test images. */
async function finishAndEvaluate(result: TrainResult, config: TrainOptions, data: { train: Dataset; test: Dataset }, o: CvCommandOptions) {
  await finishTraining(result.model, result.average, data.train, { batchSize: config.batch, perPath: o['per-path-bn'], seed: config.seed });
  return evaluateRules(result.model, data.test, config);
}

/** The classifier, the auxiliary rule and the mirrored ensemble on `test`, at the evaluation batch size train uses. */
function evaluateRules(model: FerModel, test: Dataset, config: TrainOptions) {
  return evaluate(model, test, { batchSize: evaluationBatchSize(config), ensemble: true });
}

/** Whether the recipe ends with weight averaging or a re-estimation of BatchNorm statistics. */
function finishes(o: CvCommandOptions): boolean {
  const finishing = o['average-from'] !== undefined || o['per-path-bn'] || o['recalibrate-bn'];
  if (o['recalibrate-bn'] && (o['average-from'] !== undefined || o['per-path-bn'])) {
    throw new Error(`--recalibrate-bn: ${o['per-path-bn'] ? '--per-path-bn' : '--average-from'} re-estimates the BatchNorm statistics already; leave --recalibrate-bn out`);
  }
  if (o['per-path-bn'] && o.model !== 'pcnn') {
    throw new Error(`--per-path-bn is for --model pcnn (it keeps the statistics of PCNN's two layer4 passes apart); not for --model ${o.model}`);
  }
  if (o['per-path-bn'] && o.registration === 'attention') {
    throw new Error("--per-path-bn keeps layer4's statistics apart for its pass on x10, which --registration attention does not make (layer4 runs once)");
  }
  return finishing;
}

function describeFinish(o: CvCommandOptions): string {
  const from = o['average-from'];
  return `${from === undefined ? 'last weights' : `weights averaged over epochs ${from} to ${o.epochs}`}, ` +
    `BatchNorm statistics re-estimated on the training data without augmentation${o['per-path-bn'] ? " (layer4's per input)" : ''}`;
}

function meanAndSpread(accuracies: number[]): { accuracies: number[]; mean: number; std: number } {
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const std = Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / (accuracies.length - 1));
  return { accuracies, mean, std };
}

function reportSkipped(skipped: { file: string; reason: string }[]): void {
  if (!skipped.length) return;
  console.error(`skipped ${skipped.length} unreadable file(s):`);
  for (const s of skipped.slice(0, 20)) console.error(`  ${s.file}: ${s.reason}`);
  if (skipped.length > 20) console.error(`  ... and ${skipped.length - 20} more`);
}

function describeAdapter(): string {
  const { vendor, architecture, device } = gpu().adapter;
  return `${vendor} / ${architecture} / ${device}`;
}

/** The --model family's own defaults (FERAtt's input size and learning rate, say) for the options not given. */
function withFamilyDefaults(parsed: Record<string, unknown>, given: ReadonlySet<string>): void {
  for (const [option, value] of Object.entries(family(parsed.model as string).optionDefaults)) {
    if (option in parsed && !given.has(option)) parsed[option] = value;
  }
}

/** A command: its summary, its options, and its run with them parsed. */
interface Command {
  summary: string;
  usage?: string;
  options: OptionSpecs;
  /** Parses the command's arguments (an error on a bad one) into whether --help was asked and the run. */
  parse(argv: string[], name: string): { help: boolean; run(): Promise<void> };
}

/** A command whose run gets its own options' types (every command has --help). */
function command<S extends OptionSpecs & typeof helpOption>(
  summary: string,
  options: S,
  run: (o: ParsedOptions<S>, given: ReadonlySet<string>, rest: string[]) => Promise<void>,
  usage?: string,
): Command {
  return {
    summary,
    usage,
    options,
    parse(argv, name) {
      const { options: parsed, positional, given } = parseArgs(argv, options, name);
      if (typeof parsed.model === 'string') withFamilyDefaults(parsed, given);
      return { help: parsed.help === true, run: () => run(parsed, given, positional) };
    },
  };
}

const commands: Record<string, Command> = {
  train: command('Train PCNN, FERAtt or ARPGNet (--model; default: PCNN on the built-in synthetic faces, a configuration that trains in minutes on a CPU adapter).', trainOptions, cmdTrain),
  eval: command(
    'Evaluate a checkpoint: accuracy, per-class accuracy, confusion matrix (text and PNG); --robustness adds occlusion and rotation variants.',
    evalOptions,
    cmdEval,
  ),
  predict: command('Class probabilities for images, and a PNG with the five crops, the registered local map and the prediction.', predictOptions, cmdPredict, 'IMAGE...'),
  info: command('Parameters and multiply-accumulates per configuration, and inference latency on this adapter.', modelOptions, cmdInfo),
  cv: command('k-fold cross-validation by subject (CK+48 protocol: subjects sorted as strings, rank r in fold r mod k).', cvOptions, cmdCv),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const list = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(8)} ${c.summary}`).join('\n');
    console.log(`usage: pcnn <command> [options]\n\ncommands:\n${list}\n\npcnn <command> --help for its options`);
    return name && name !== '--help' && name !== 'help' ? 2 : 0;
  }
  try {
    const { help, run } = command.parse(rest, name);
    if (help) {
      console.log(helpText(name, command.summary, command.options, command.usage));
      return 0;
    }
    await init();
    await run();
    flush();
    return 0;
  } catch (error) {
    console.error(`pcnn ${name}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DEBUG && error instanceof Error) console.error(error.stack);
    return 1;
  } finally {
    release();
  }
}

