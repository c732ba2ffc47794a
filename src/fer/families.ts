/**
 * The FER models the shared training, evaluation and CLI code runs, each described once: how to build
 * it from a configuration, its training loss, its inference outputs, and what its forward writes besides
 * them. Adding a model is one entry here and a folder of its own (src/pcnn, src/feratt).
 */
import { tensor, type Tensor } from '../engine/tensor.js';
import { loadTensors, type StateDict } from '../nn/module.js';
import { add, mul, sub } from '../kernels/elementwise/index.js';
import { sum } from '../kernels/reduce/index.js';
import { reshape } from '../kernels/shape/index.js';
import { matmul } from '../kernels/matmul/index.js';
import { Adam, SGD } from '../optim/index.js';
import { STILL_COMPOSITES, augment, compositeDataset, evalTransform, sampleAt, type Dataset, type Sample, type Transform } from './data/index.js';
import type { GroupHyper, Optimizer } from '../optim/optimizer.js';
import { PCNN, type PCNNConfig, type Registration } from '../pcnn/model.js';
import { pcnnLoss, type PCNNLossOptions } from '../pcnn/loss.js';
import { loadAllButClassHeads, trunkStateFromResnet } from '../pcnn/pretrained.js';
import { loadRegistrationState, registrationState } from '../pcnn/registration-statistics.js';
import { predictImages } from '../pcnn/predict.js';
import type { Prediction } from './predict.js';
import { pcnnMacs } from '../pcnn/info.js';
import { FERAtt, type FERAttResolvedConfig } from '../feratt/model.js';
import { ferattLoss } from '../feratt/loss.js';
import { ferattSize } from '../feratt/info.js';
import { predictFERAttImages } from '../feratt/predict.js';
import { ARPGNet, loadARPGNetAllButClassifier, loadTorchvisionResnet } from '../arpgnet/model.js';
import { ARPGNET_DEFAULTS, resolveARPGNetConfig, type ARPGNetConfig, type ARPGNetOptions } from '../arpgnet/config.js';
import { predictARPGNetClips } from '../arpgnet/predict.js';
import { crossEntropy } from '../kernels/softmax/index.js';

export const MODEL_NAMES = ['pcnn', 'feratt', 'arpgnet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** A model of one of the families. */
export type FerModel = PCNN | FERAtt | ARPGNet;

/** What every family's configuration has (the data pipeline reads these). */
export interface BaseConfig {
  inChannels: number;
  width: number;
  numClasses: number;
  inputSize: readonly [number, number];
}

/** A configuration with its family named: what checkpoints and training options hold. */
export type ModelSpec =
  | { name: 'pcnn'; config: Required<PCNNConfig> }
  | { name: 'feratt'; config: FERAttResolvedConfig }
  | { name: 'arpgnet'; config: ARPGNetConfig };

/** One training batch as tensors: the input, the labels and, for models trained towards a clean face
 *  (FERAtt), that face. */
export interface TrainingInput {
  x: Tensor;
  y: Int32Array;
  clean?: Tensor;
}

export interface LossOptions extends PCNNLossOptions {}

/** An optimizer of any kind (SGD, Adam), as training drives it. */
export type AnyOptimizer = Optimizer<GroupHyper, object>;

/** The CLI's model options, from which a family makes its configuration. */
export interface ModelOptions {
  inputSize: number;
  inChannels: number;
  width: number;
  classes: number;
  /** Options of models of clips (ARPGNet's --frames, --grid, ...); given to another model, an error. */
  clip?: ARPGNetOptions;
  /** PCNN's --registration; given to another model, an error. */
  registration?: Registration;
}

/** The optimizer settings of a training recipe (each family uses those its optimizer has). */
export interface OptimizerRecipe {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export interface Family<M extends FerModel, C extends BaseConfig> {
  name: ModelName;
  /** As the papers write it: 'PCNN', 'FERAtt'. */
  title: string;
  /** The second prediction rule reported beside the classifier's. */
  auxiliaryRule: string;
  /** Whether that rule reads the evaluated batch's labels (FERAtt's GMM accuracy, as its official log):
   *  then it is a diagnostic of the embedding, not a prediction, and stays out of the ensemble. */
  auxiliaryUsesLabels: boolean;
  /** CLI options of the training recipe that this family's loss or optimizer does not read (refused when given). */
  ignoredOptions: string[];
  /** The CLI's defaults where this family's differ from the option tables' (PCNN's). */
  optionDefaults: Record<string, number>;
  create(config: C): M;
  configFromOptions(o: ModelOptions): C;
  /** The published configuration, for `info`. */
  paperConfig: C;
  /** Parameters and multiply-accumulates, one line; `parameters` counts them on a built model, where
   *  the family has no count from the configuration alone. */
  describe(config: C, parameters: () => number): string;
  /** Names in published checkpoints that the model does not use (dropped on load, and reported). */
  ignoredPrefixes: string[];
  /** State kept in checkpoints beside the state dict (PCNN's registration statistics), and its loading. */
  extraState(model: M): Record<string, Tensor>;
  loadExtraState(model: M, state: StateDict, file: string): void;
  /** The training samples an epoch draws from `train` (FERAtt: its faces composited on backgrounds). */
  trainingSet(train: Dataset, o: { seed: number; config: C; augment: boolean }): Dataset;
  /** The augmentation of training images, and the transform of every image the model is given otherwise. */
  augment: Transform | null;
  evalTransform: Transform;
  /** Whether the faces it trains on need their masks (the synthetic set then attaches them). */
  needsMasks: boolean;
  /** Frames per sample of a model of clips (ARPGNet): a sample is then its T frames [C, H, W] stacked
   *  as [T·C, H, W] (the data layer's clips), the model's input [N, T, C, H, W]; null for models of
   *  single images ([C, H, W] samples, [N, C, H, W] input). */
  clipFrames(config: C): number | null;
  /** Class probabilities of image files, and a picture of what the model saw for each under `out`. */
  predictImages(model: M, files: string[], classNames: string[], out: string): Promise<Prediction[]>;
  /** Forward and the model's training loss, with the graph recorded; logits are the classifier's. */
  trainingLoss(model: M, input: TrainingInput, options: LossOptions): { loss: Tensor; logits: Tensor };
  /** The classifier's logits and the auxiliary rule's scores (both [N, classes], larger is likelier).
   *  A rule that needs the labels (FERAtt's GMM accuracy) scores only when they are given. */
  predict(model: M, x: Tensor, labels?: Int32Array): { logits: Tensor; auxiliary?: Tensor };
  /** Running statistics a training forward updates that are not among the model's buffers. */
  extraStatistics(model: M): Tensor[];
  optimizer(model: M, recipe: OptimizerRecipe): AnyOptimizer;
  /** What `--init-trunks` loads: which torchvision ResNet, into which part of the model. */
  backbone: string;
  /** Loads a torchvision ResNet state dict into the model's backbone; returns what was loaded, for the log. */
  loadBackbone(model: M, resnet: StateDict, file: string): string;
  /** Loads a state dict of the same model trained on other data, all but the class heads; returns what
   *  was loaded, for the log. */
  loadAllButClassHeads(model: M, state: StateDict, file: string): string;
}

/** PCNN's and ARPGNet's transforms: augment.ts's training augmentation, and normalisation alone. */
const normalisedAugment: Transform = (image, shape, g) => augment(image, shape, g);
const normalised: Transform = (image, shape) => evalTransform(image, shape);

/** Parameters of a model as PyTorch counts them (a shared tensor once). */
export function parameterCount(model: FerModel): number {
  return model.parameters().reduce((s, p) => s + p.size, 0);
}

function refuseRegistration(_model: FerModel, state: StateDict, file: string): never {
  throw new Error(`${file}: holds ${Object.keys(state).length} registration statistics, which only PCNN has`);
}

const pcnn: Family<PCNN, Required<PCNNConfig>> = {
  name: 'pcnn',
  title: 'PCNN',
  auxiliaryRule: 'sense heads',
  auxiliaryUsesLabels: false,
  ignoredOptions: [],
  optionDefaults: {},
  create: (config) => new PCNN(config),
  configFromOptions: (o) => ({
    inChannels: o.inChannels,
    width: o.width,
    numClasses: o.classes,
    inputSize: [o.inputSize, o.inputSize],
    stnInit: 'identity',
    registration: o.registration ?? 'stn',
  }),
  paperConfig: { inChannels: 3, width: 64, numClasses: 7, inputSize: [224, 224], stnInit: 'identity', registration: 'stn' },
  describe: (config, parameters) =>
    `PCNN ${config.inputSize.join('x')}x${config.inChannels}, width ${config.width}, ${config.numClasses} classes` +
    `${config.registration === 'attention' ? ', registration by cross-attention (ours)' : ''}: ` +
    `${parameters().toLocaleString('en')} parameters, ${(pcnnMacs(config) / 1e6).toFixed(1)} MMAC per image (layer4 counted ${config.registration === 'attention' ? 'once' : 'twice'})`,
  ignoredPrefixes: ['resnet'],
  trainingSet: (train) => train,
  augment: normalisedAugment,
  evalTransform: normalised,
  needsMasks: false,
  clipFrames: () => null,
  extraState: registrationState,
  loadExtraState: loadRegistrationState,
  predictImages,
  trainingLoss(model, { x, y }, options) {
    const { out, heads } = model.forward(x);
    return { loss: pcnnLoss(out, heads, y, options), logits: out };
  },
  predict(model, x) {
    const { out, heads } = model.forward(x);
    return { logits: out, auxiliary: heads };
  },
  extraStatistics: (model) => (model.registrationStatistics ?? []).flatMap((s) => [s.mean, s.variance]),
  optimizer: (model, { lr, momentum, weightDecay }) => new SGD(model.parameters(), { lr, momentum, weightDecay }),
  backbone: 'a torchvision ResNet-18 for the six trunks and layer4',
  loadBackbone(model, resnet, file) {
    const { state, unused } = trunkStateFromResnet(resnet, model, file);
    model.loadStateDict(state, { strict: false });
    return `loaded into the six trunks and layer4 (${unused.length} entries unused: ${unused.slice(0, 3).join(', ')})`;
  },
  loadAllButClassHeads(model, state, file) {
    loadAllButClassHeads(model, state, file);
    return 'loaded all but the class heads fc, fc2..fc7, which start fresh';
  },
};

/**
 * FERAtt with the official GMM training step (Adam; CE + DGMM + attention loss). Its auxiliary rule is
 * the official log's 'gmm' accuracy: each image goes to the nearest mean embedding of the classes of its
 * batch, the means taken with the batch's labels, so it measures how well z separates the classes rather
 * than being a rule usable without labels, and it depends on the batch's composition (a batch of one
 * class scores 100%; evaluation batches come in the data's order, CK+'s grouped by class): a diagnostic,
 * kept out of the ensemble.
 */
const feratt: Family<FERAtt, FERAttResolvedConfig> = {
  name: 'feratt',
  title: 'FERAtt',
  auxiliaryRule: 'GMM nearest class mean',
  auxiliaryUsesLabels: true,
  // The official loss has fixed weights and its Adam no momentum.
  ignoredOptions: ['momentum', 'alpha', 'beta'],
  optionDefaults: { 'input-size': 128, 'in-channels': 3, lr: 1e-4, 'weight-decay': 0 },
  create: (config) => new FERAtt(config),
  configFromOptions: (o) => ({ inChannels: o.inChannels, width: o.width, numClasses: o.classes, inputSize: [o.inputSize, o.inputSize], dim: 64 }),
  paperConfig: { inChannels: 3, width: 64, numClasses: 8, inputSize: [128, 128], dim: 64 },
  describe(config) {
    const { parameters, unusedParameters, macs } = ferattSize(config);
    return `FERAtt ${config.inputSize.join('x')}x${config.inChannels}, width ${config.width}, dim ${config.dim}, ${config.numClasses} classes: ` +
      `${parameters.toLocaleString('en')} parameters (${unusedParameters.toLocaleString('en')} of them in the unused encoder.fc), ` +
      `${(macs / 1e6).toFixed(1)} MMAC per image`;
  },
  trainingLoss(model, { x, y, clean }, _options) {
    if (!clean) throw new Error('FERAtt training step: the batch has no clean faces (the attention loss needs them); train on composited faces');
    const out = model.forward(x, clean);
    return { loss: ferattLoss(out, y, clean).total, logits: out.logits };
  },
  predict(model, x, labels) {
    const { z, logits } = model.forward(x);
    return { logits, ...(labels ? { auxiliary: nearestBatchMeanScores(z, labels, model.config.numClasses) } : {}) };
  },
  extraStatistics: () => [],
  // pytvision's _create_optimizer for 'adam', which the official training uses: AMSGrad, no weight decay.
  optimizer: (model, { lr, weightDecay }) => new Adam(model.parameters(), { lr, weightDecay, amsgrad: true }),
  backbone: 'a torchvision ResNet-34 for the attention encoder',
  loadBackbone(model, resnet, file) {
    const state = Object.fromEntries(Object.entries(resnet).map(([name, value]) => [`attention_map.encoder.${name}`, value]));
    const own = Object.fromEntries(Object.entries(model.stateDict()).filter(([name]) => name.startsWith('attention_map.encoder.')));
    loadTensors(own, state, { owner: `FERAtt's attention encoder from ${file} (a torchvision ResNet-34)` });
    return `loaded into the attention encoder (attention_map.encoder, ResNet-34 with its fc)`;
  },
  loadAllButClassHeads(model, state, file) {
    const isHead = (name: string) => name.startsWith('netclass.classification.');
    const own = Object.fromEntries(Object.entries(model.stateDict()).filter(([name]) => !isHead(name)));
    const body = Object.fromEntries(Object.entries(state).filter(([name]) => !isHead(name)));
    loadTensors(own, body, { owner: `FERAtt from ${file}, all but the class head netclass.classification` });
    return 'loaded all but the class head netclass.classification, which starts fresh';
  },
  ignoredPrefixes: [],
  trainingSet: compositedFaces,
  // The official input is the image / 255, without normalisation; the composites carry their own augmentation.
  augment: null,
  evalTransform: (image) => image,
  needsMasks: true,
  clipFrames: () => null,
  extraState: () => ({}),
  loadExtraState: refuseRegistration,
  predictImages: predictFERAttImages,
};

/**
 * ARPGNet (our reconstruction, src/arpgnet/model.ts) on clips: cross-entropy on the fused logits, Adam
 * (lr 1e-3 by default, the recipe's weight decay); the auxiliary rule is the same classifier on the last
 * step's fusion nodes alone (no temporal pooling). Augmentation is PCNN's, drawn once per clip and applied
 * to every frame (a clip is one [T·C, H, W] sample).
 */
const arpgnet: Family<ARPGNet, ARPGNetConfig> = {
  name: 'arpgnet',
  title: 'ARPGNet',
  auxiliaryRule: 'last step',
  auxiliaryUsesLabels: false,
  ignoredOptions: ['momentum', 'alpha', 'beta'],
  optionDefaults: { lr: 1e-3 },
  create: (config) => new ARPGNet(config),
  configFromOptions: (o) => resolveARPGNetConfig({ inChannels: o.inChannels, width: o.width, numClasses: o.classes, inputSize: [o.inputSize, o.inputSize] }, o.clip),
  // No configuration is published: ours at torchvision's width, 112x112 RGB, T = 16, P = 7.
  paperConfig: resolveARPGNetConfig({ inChannels: 3, width: 64, numClasses: 7, inputSize: [112, 112] }, { ...ARPGNET_DEFAULTS, frames: 16, grid: 7 }),
  describe: (config, parameters) =>
    `ARPGNet (our reconstruction) ${config.frames}x${config.inputSize.join('x')}x${config.inChannels} clips, width ${config.width}, ` +
    `P ${config.grid} (${config.neighbours}-neighbours${config.symmetry ? ' + mirror' : ''}, layer${config.relationStage}), D ${config.dim}, ${config.heads} heads, ` +
    `${config.fusion} fusion, ${config.position} position, cross ${config.cross}, branches ${config.branches}, ${config.numClasses} classes: ` +
    `${parameters().toLocaleString('en')} parameters`,
  trainingLoss(model, { x, y }) {
    const { logits } = model.forward(x);
    return { loss: crossEntropy(logits, y), logits };
  },
  predict(model, x) {
    const { logits, lastStep } = model.forward(x);
    return { logits, auxiliary: lastStep };
  },
  extraStatistics: () => [],
  optimizer: (model, { lr, weightDecay }) => new Adam(model.parameters(), { lr, weightDecay }),
  backbone: 'a torchvision ResNet-18 for the trunk and layer4',
  loadBackbone(model, resnet, file) {
    const unused = loadTorchvisionResnet(model, resnet, file);
    return `loaded into the trunk and layer4 (${unused.length} entries unused: ${unused.slice(0, 3).join(', ')})`;
  },
  loadAllButClassHeads: (model, state, file) => loadARPGNetAllButClassifier(model, state, file),
  ignoredPrefixes: [],
  trainingSet: (train) => train,
  augment: normalisedAugment,
  evalTransform: normalised,
  needsMasks: false,
  clipFrames: (config) => config.frames,
  extraState: () => ({}),
  loadExtraState: refuseRegistration,
  predictImages: predictARPGNetClips,
};

/** [C, H, W] of one sample of the family's data: [T·C, H, W] for a model of clips. */
export function sampleShape(name: ModelName, config: BaseConfig): [number, number, number] {
  const frames = family(name).clipFrames(config) ?? 1;
  return [frames * config.inChannels, config.inputSize[0], config.inputSize[1]];
}

/** The model's input shape for a batch of n samples: [n, C, H, W], or [n, T, C, H, W] for clips. */
export function inputShape(model: FerModel, n: number): number[] {
  const { inChannels, inputSize } = model.config;
  const frames = familyOf(model).clipFrames(model.config);
  return frames === null ? [n, inChannels, inputSize[0], inputSize[1]] : [n, frames, inChannels, inputSize[0], inputSize[1]];
}

/** FERAtt's training data: each epoch, every face composited on a new background (compositeDataset), the
 *  clean face its target; without augmentation the geometry and the colour jitter are left out. */
function compositedFaces(train: Dataset, { seed, config, augment }: { seed: number; config: FERAttResolvedConfig; augment: boolean }): Dataset {
  // Each face is drawn (or decoded) once and kept: epochs composite the same faces anew.
  const faces: (Sample | undefined)[] = [];
  const face = sampleAt(train);
  const cached = Array.isArray(train) ? train : { length: train.length, get: (index: number) => (faces[index] ??= face(index)) };
  const labels = 'label' in train && typeof train.label === 'function' ? Int32Array.from({ length: train.length }, (_, i) => (train.label as (i: number) => number)(i)) : undefined;
  const composites = compositeDataset(cached, {
    seed, size: config.inputSize[0], channels: config.inChannels, ...(labels ? { labels } : {}), ...(augment ? {} : STILL_COMPOSITES),
  });
  return { length: composites.length, get: (index, epoch = 0) => composites.sample(epoch, index) };
}

/** −‖z_i − μ_c‖² / 2 for the classes c present in the batch (μ_c their mean embedding), −∞ for the others. */
function nearestBatchMeanScores(z: Tensor, labels: Int32Array, numClasses: number): Tensor {
  const [n, dim] = z.shape;
  const present = [...new Set(labels)].sort((a, b) => a - b);
  const averaging = new Float32Array(present.length * n);
  present.forEach((c, j) => {
    const members = labels.filter((label) => label === c).length;
    labels.forEach((label, i) => void (label === c && (averaging[j * n + i] = 1 / members)));
  });
  const mu = matmul(tensor(averaging, [present.length, n]), z);
  const diff = sub(reshape(z, [n, 1, dim]), reshape(mu, [1, present.length, dim]));
  const scores = mul(sum(mul(diff, diff), 2), -0.5);
  const spread = new Float32Array(present.length * numClasses);
  present.forEach((c, j) => (spread[j * numClasses + c] = 1));
  const absent = new Float32Array(numClasses).fill(-Infinity);
  present.forEach((c) => (absent[c] = 0));
  return add(matmul(scores, tensor(spread, [present.length, numClasses])), tensor(absent, [numClasses]));
}

/** The family of a model. */
export function familyOf(model: FerModel): Family<FerModel, BaseConfig> {
  if (model instanceof PCNN) return pcnn;
  if (model instanceof FERAtt) return feratt;
  if (model instanceof ARPGNet) return arpgnet;
  throw new Error(`familyOf: ${(model as object).constructor.name} is not a model of ${MODEL_NAMES.join(', ')}`);
}

/** The family named `name` (a CLI --model or a checkpoint's metadata). */
export function family(name: string): Family<FerModel, BaseConfig> {
  if (name === 'pcnn') return pcnn;
  if (name === 'feratt') return feratt;
  if (name === 'arpgnet') return arpgnet;
  throw new Error(`unknown model '${name}'; expected one of ${MODEL_NAMES.join(', ')}`);
}

/** A new model of the spec's family. */
export function createModel(spec: ModelSpec): FerModel {
  return family(spec.name).create(spec.config);
}
