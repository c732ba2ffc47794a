/**
 * Checkpoints. Ours are safetensors files: the model's tensors under their PyTorch names (so the file is
 * also a plain state dict), the optimizer's state tensors under `optimizer.state.<i>.<name>`, and JSON
 * metadata (`pcnn`: model config, class names and training progress, checked on save and on load by
 * checkCheckpointMeta; `optimizer`, `scheduler`: their host state), and
 * while weights are being averaged their averages under `average.<name>` (count in metadata `average`);
 * a model with layer4 statistics per input holds the second set under `registration.<i>.running_*`.
 * Written atomically (temporary file, fsync, rename). PyTorch `.pth` files are read by the restricted
 * unpickler of src/engine/io, which never executes code from the file.
 */
import { loadSafetensors, saveSafetensors, type HostTensor, type TensorToSave } from '../engine/io/safetensors.js';
import { loadPth, pthStateDict, type PthOptions } from '../engine/io/pth.js';
import { joinOptimizerState, splitOptimizerState, type OptimizerStateMeta } from '../optim/optimizer.js';
import type { Module, StateDict, StateValue } from '../nn/module.js';
import type { Tensor } from '../engine/tensor.js';
import { MODEL_NAMES } from './families.js';
import { REGISTRATIONS } from '../pcnn/model.js';

const OPTIMIZER_PREFIX = 'optimizer.';
const AVERAGE_PREFIX = 'average.';
const REGISTRATION_PREFIX = 'registration.';
const NOT_MODEL = [OPTIMIZER_PREFIX, AVERAGE_PREFIX, REGISTRATION_PREFIX];

/** What an optimizer and a scheduler offer for checkpointing (SGD, Adam, StepLR, ... all do). */
export interface Checkpointable<D> {
  stateDict(): D;
  loadStateDict(dict: D): void;
}
type OptimizerLike = Checkpointable<Parameters<typeof splitOptimizerState>[0]>;
type SchedulerLike = Checkpointable<Record<string, number | number[]>>;

export interface CheckpointContents<M> {
  /** The model's state dict (host arrays). */
  model: StateDict;
  meta: M;
  /** Averaged weights (WeightAverage's state), when the file holds them. */
  average?: { tensors: StateDict; count: number };
  /** PCNN's layer4 statistics for its pass on x10 (`registrationState`), when the file holds them. */
  registration?: StateDict;
  /** Restores optimizer and scheduler state (when the file holds them). */
  restore(optimizer?: OptimizerLike, scheduler?: SchedulerLike): void;
}

async function hostTensor(t: Tensor): Promise<TensorToSave> {
  return { shape: [...t.shape], data: t.dtype === 'int32' ? await t.toInt32Array() : await t.toArray() };
}

async function hostTensors(dict: Record<string, StateValue>, prefix = ''): Promise<Record<string, TensorToSave>> {
  const out: Record<string, TensorToSave> = {};
  for (const [name, value] of Object.entries(dict)) {
    out[prefix + name] = 'buffer' in value ? await hostTensor(value) : { shape: [...value.shape], data: Float32Array.from(value.data) };
  }
  return out;
}

export async function saveCheckpoint<M>(
  path: string,
  parts: {
    model: Module;
    meta: M;
    optimizer?: OptimizerLike;
    scheduler?: SchedulerLike;
    average?: { tensors: Record<string, Tensor>; count: number };
    registration?: Record<string, Tensor>;
  },
): Promise<void> {
  checkCheckpointMeta(parts.meta, path); // a file written with bad metadata would be refused when loaded
  const tensors = await hostTensors(parts.model.stateDict());
  const metadata: Record<string, string> = { format: 'pcnn-webgpu/1', pcnn: JSON.stringify(parts.meta) };
  if (parts.optimizer) {
    const { tensors: state, meta } = splitOptimizerState(parts.optimizer.stateDict());
    Object.assign(tensors, await hostTensors(state, OPTIMIZER_PREFIX));
    metadata.optimizer = JSON.stringify(meta);
  }
  if (parts.scheduler) metadata.scheduler = JSON.stringify(parts.scheduler.stateDict());
  if (parts.registration) Object.assign(tensors, await hostTensors(parts.registration, REGISTRATION_PREFIX));
  if (parts.average) {
    Object.assign(tensors, await hostTensors(parts.average.tensors, AVERAGE_PREFIX));
    metadata.average = JSON.stringify(parts.average.count);
  }
  await saveSafetensors(path, tensors, metadata);
}

const STN_INITS = ['identity', 'default'];

/**
 * Fills, in place, the fields a model configuration saved by an earlier version lacks, with what that
 * version ran (`model` absent: PCNN): PCNN's `registration`, 'stn' (the paper's) before the option
 * existed. Checkpoints and cv's per-fold recipes are read through it.
 */
export function withSavedDefaults(model: string | undefined, config: Record<string, unknown>): void {
  if ((model ?? 'pcnn') === 'pcnn') config.registration ??= 'stn';
}

/**
 * Refuses `pcnn` metadata that the commands could not use, naming `file`, the field and what was
 * expected (a config of null or a single class name used to fail later as "Cannot read properties of
 * undefined"): an object with `model` (a family of families.ts; absent: PCNN), `config`, a complete model
 * configuration (inChannels, width, numClasses positive integers, inputSize two of them, for PCNN stnInit
 * 'identity' or 'default' and registration 'stn' or 'attention' where present; the model's constructor
 * checks the values further), and `classNames`, one string per class. Training progress (epoch, bestAccuracy,
 * history) is checked for its type where present. Other fields are left alone.
 */
export function checkCheckpointMeta(meta: unknown, file: string): void {
  const where = `${file}: metadata 'pcnn'`;
  const show = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value));
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  const isPositiveInteger = (value: unknown) => Number.isInteger(value) && (value as number) > 0;
  if (!isObject(meta)) throw new Error(`${where} must be an object, got ${show(meta)}`);
  const { config, classNames } = meta;
  if (!isObject(config)) throw new Error(`${where}: config must be an object (the model configuration), got ${show(config)}`);
  for (const field of ['inChannels', 'width', 'numClasses']) {
    if (!isPositiveInteger(config[field])) throw new Error(`${where}: config.${field} must be a positive integer, got ${show(config[field])}`);
  }
  const { inputSize, stnInit, numClasses } = config;
  if (!(Array.isArray(inputSize) && inputSize.length === 2 && inputSize.every(isPositiveInteger))) {
    throw new Error(`${where}: config.inputSize must be [height, width], two positive integers, got ${show(inputSize)}`);
  }
  const { model = 'pcnn' } = meta;
  if (!(MODEL_NAMES as readonly unknown[]).includes(model)) throw new Error(`${where}: model must be one of ${MODEL_NAMES.join(', ')}, got ${show(model)}`);
  if (model === 'pcnn' && !STN_INITS.includes(stnInit as string)) {
    throw new Error(`${where}: config.stnInit must be one of ${STN_INITS.join(', ')}, got ${show(stnInit)}`);
  }
  if (model === 'pcnn' && config.registration !== undefined && !(REGISTRATIONS as readonly unknown[]).includes(config.registration)) {
    throw new Error(`${where}: config.registration must be one of ${REGISTRATIONS.join(', ')} (absent: stn), got ${show(config.registration)}`);
  }
  if (!(Array.isArray(classNames) && classNames.every((name) => typeof name === 'string'))) {
    throw new Error(`${where}: classNames must be a list of strings, got ${show(classNames)}`);
  }
  if (classNames.length !== numClasses) {
    throw new Error(`${where}: classNames has ${classNames.length} names (${classNames.join(', ')}) for config.numClasses ${numClasses}`);
  }
  if ('epoch' in meta && !(Number.isInteger(meta.epoch) && (meta.epoch as number) >= 0)) {
    throw new Error(`${where}: epoch must be a non-negative integer, got ${show(meta.epoch)}`);
  }
  if ('bestAccuracy' in meta && typeof meta.bestAccuracy !== 'number') throw new Error(`${where}: bestAccuracy must be a number, got ${show(meta.bestAccuracy)}`);
  if ('history' in meta && !Array.isArray(meta.history)) throw new Error(`${where}: history must be a list of epoch records, got ${show(meta.history)}`);
}

/** Host data as numbers (checkpoint integers such as PyTorch's int64 `num_batches_tracked` included).
 *  The data is read only when first used: a `.pth` view's elements are copied out then, and loadStateDict
 *  checks every shape against the model's before it reads any data, so a file claiming a huge tensor of
 *  the wrong shape is refused without paying for it. */
function asStateValue(t: HostTensor, name: string, file: string): StateValue {
  if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL') {
    throw new Error(`${file}: tensor '${name}' is ${t.dtype}; only float32/float64 and integer tensors are supported`);
  }
  let numbers: ArrayLike<number> | undefined;
  return {
    shape: t.shape,
    get data() {
      const data = t.data;
      return (numbers ??= data instanceof BigInt64Array || data instanceof BigUint64Array ? Array.from(data, Number) : data);
    },
  };
}

/** Reads one of our checkpoints; model-only files (safetensors state dicts) are accepted too. */
export async function loadCheckpoint<M>(path: string): Promise<CheckpointContents<M | undefined>> {
  const { tensors, metadata } = await loadSafetensors(path);
  const model: StateDict = {};
  const optimizerTensors: StateDict = {};
  const averageTensors: StateDict = {};
  const registration: StateDict = {};
  for (const [name, t] of Object.entries(tensors)) {
    const part = (
      [[OPTIMIZER_PREFIX, optimizerTensors], [AVERAGE_PREFIX, averageTensors], [REGISTRATION_PREFIX, registration]] as const
    ).find(([prefix]) => name.startsWith(prefix));
    if (part) part[1][name.slice(part[0].length)] = asStateValue(t, name, path);
    else model[name] = asStateValue(t, name, path);
  }
  const parse = <T>(key: string): T | undefined => {
    if (metadata[key] === undefined) return undefined;
    try {
      return JSON.parse(metadata[key]) as T;
    } catch (error) {
      throw new Error(`${path}: metadata '${key}' is not valid JSON (${(error as Error).message})`);
    }
  };
  const averageCount = parse<number>('average');
  const meta = parse<M>('pcnn');
  if (meta !== undefined) {
    checkCheckpointMeta(meta, path);
    const stored = meta as unknown as { model?: string; config: Record<string, unknown> };
    withSavedDefaults(stored.model, stored.config);
  }
  return {
    model,
    meta,
    ...(averageCount === undefined ? {} : { average: { tensors: averageTensors, count: averageCount } }),
    ...(Object.keys(registration).length ? { registration } : {}),
    restore(optimizer, scheduler) {
      const optimizerMeta = parse<OptimizerStateMeta>('optimizer');
      if (optimizer) {
        if (!optimizerMeta) throw new Error(`${path}: holds no optimizer state; cannot resume from it`);
        optimizer.loadStateDict(joinOptimizerState(optimizerTensors, optimizerMeta));
      }
      const schedulerState = parse<Record<string, number | number[]>>('scheduler');
      if (scheduler) {
        if (!schedulerState) throw new Error(`${path}: holds no scheduler state; cannot resume from it`);
        scheduler.loadStateDict(schedulerState);
      }
    },
  };
}

/**
 * A model state dict from a file: our safetensors, or a PyTorch `.pth` (a state dict, or
 * `{ state_dict: ... }` as the official training script saves). Entries whose names start with one of
 * `ignorePrefixes` (the official checkpoint's unused `resnet*` copies) are dropped and reported.
 * `pthOptions` raises the element limit of `.pth` files (loadPth's `maxElements`).
 */
export async function loadWeights(
  path: string,
  ignorePrefixes: readonly string[] = [],
  pthOptions: PthOptions = {},
): Promise<{ state: StateDict; ignored: string[] }> {
  let entries: [string, HostTensor][];
  if (/\.(pth|pt|tar)$/i.test(path)) {
    entries = Object.entries(pthStateDict(await loadPth(path, pthOptions)));
  } else {
    entries = Object.entries((await loadSafetensors(path)).tensors).filter(([name]) => !NOT_MODEL.some((p) => name.startsWith(p)));
  }
  const state: StateDict = {};
  const ignored: string[] = [];
  for (const [rawName, t] of entries) {
    const name = rawName.startsWith('module.') ? rawName.slice('module.'.length) : rawName; // DataParallel
    if (ignorePrefixes.some((p) => name.startsWith(p))) ignored.push(name);
    else state[name] = asStateValue(t, name, path);
  }
  return { state, ignored };
}
