/**
 * The FER models the shared training, evaluation and CLI code runs, each described once: how to build
 * it from a configuration, its training loss, its inference outputs, and what its forward writes besides
 * them. Adding a model is one entry here and a folder of its own (src/pcnn, src/feratt).
 */
import type { Tensor } from '../engine/tensor.js';
import type { StateDict } from '../nn/module.js';
import { SGD } from '../optim/index.js';
import type { GroupHyper, Optimizer } from '../optim/optimizer.js';
import { PCNN, type PCNNConfig } from '../pcnn/model.js';
import { pcnnLoss, type PCNNLossOptions } from '../pcnn/loss.js';
import { loadAllButClassHeads, trunkStateFromResnet } from '../pcnn/pretrained.js';
import { loadRegistrationState, registrationState } from '../pcnn/recalibrate.js';
import { predictImages, type Prediction } from '../pcnn/predict.js';
import { pcnnMacs } from '../pcnn/info.js';

export const MODEL_NAMES = ['pcnn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** A model of one of the families. */
export type FerModel = PCNN;

/** What every family's configuration has (the data pipeline reads these). */
export interface BaseConfig {
  inChannels: number;
  width: number;
  numClasses: number;
  inputSize: readonly [number, number];
}

/** A configuration with its family named: what checkpoints and training options hold. */
export type ModelSpec = { name: 'pcnn'; config: Required<PCNNConfig> };

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
  /** The CLI's defaults where this family's differ from the option tables' (PCNN's). */
  optionDefaults: Record<string, number>;
  create(config: C): M;
  configFromOptions(o: ModelOptions): C;
  /** The published configuration, for `info`. */
  paperConfig: C;
  /** Parameters and multiply-accumulates, one line. */
  describe(config: C, model: M): string;
  /** Names in published checkpoints that the model does not use (dropped on load, and reported). */
  ignoredPrefixes: string[];
  /** State kept in checkpoints beside the state dict (PCNN's registration statistics), and its loading. */
  extraState(model: M): Record<string, Tensor>;
  loadExtraState(model: M, state: StateDict, file: string): void;
  /** Class probabilities of image files, and a picture of what the model saw for each under `out`. */
  predictImages(model: M, files: string[], classNames: string[], out: string): Promise<Prediction[]>;
  /** Forward and the model's training loss, with the graph recorded; logits are the classifier's. */
  trainingLoss(model: M, input: TrainingInput, options: LossOptions): { loss: Tensor; logits: Tensor };
  /** The classifier's logits and the auxiliary rule's scores (both [N, classes], larger is likelier). */
  predict(model: M, x: Tensor): { logits: Tensor; auxiliary: Tensor };
  /** Running statistics a training forward updates that are not among the model's buffers. */
  extraStatistics(model: M): Tensor[];
  optimizer(model: M, recipe: OptimizerRecipe): AnyOptimizer;
  /** What `--init-trunks` loads: which torchvision ResNet, into which part of the model. */
  backbone: string;
  /** Loads a torchvision ResNet state dict into the model's backbone; returns what was loaded, for the log. */
  loadBackbone(model: M, resnet: StateDict, file: string): string;
  /** Loads a state dict of the same model trained on other data, all but the class heads. */
  loadAllButClassHeads(model: M, state: StateDict, file: string): void;
}

const pcnn: Family<PCNN, Required<PCNNConfig>> = {
  name: 'pcnn',
  title: 'PCNN',
  auxiliaryRule: 'sense heads',
  optionDefaults: {},
  create: (config) => new PCNN(config),
  configFromOptions: (o) => ({ inChannels: o.inChannels, width: o.width, numClasses: o.classes, inputSize: [o.inputSize, o.inputSize], stnInit: 'identity' }),
  paperConfig: { inChannels: 3, width: 64, numClasses: 7, inputSize: [224, 224], stnInit: 'identity' },
  describe: (config, model) =>
    `PCNN ${config.inputSize.join('x')}x${config.inChannels}, width ${config.width}, ${config.numClasses} classes: ` +
    `${model.parameters().reduce((s, p) => s + p.size, 0).toLocaleString('en')} parameters, ` +
    `${(pcnnMacs(config) / 1e6).toFixed(1)} MMAC per image (layer4 counted twice)`,
  ignoredPrefixes: ['resnet'],
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
  loadAllButClassHeads,
};

/** The family of a model. */
export function familyOf(model: FerModel): Family<FerModel, BaseConfig> {
  if (model instanceof PCNN) return pcnn;
  throw new Error(`familyOf: ${(model as object).constructor.name} is not a model of ${MODEL_NAMES.join(', ')}`);
}

/** The family named `name` (a CLI --model or a checkpoint's metadata). */
export function family(name: string): Family<FerModel, BaseConfig> {
  if (name === 'pcnn') return pcnn;
  throw new Error(`unknown model '${name}'; expected one of ${MODEL_NAMES.join(', ')}`);
}

/** A new model of the spec's family. */
export function createModel(spec: ModelSpec): FerModel {
  return family(spec.name).create(spec.config);
}
