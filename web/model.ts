// Models for the demo: from a checkpoint's bytes (any family the CLI trains, named by the metadata's
// `model` field), and inference with the maps worth showing. The page cannot import src/fer/families.ts
// (it would bundle a second copy of the engine), so the families it runs are dispatched here by name:
// PCNN and FERAtt run on an image; ARPGNet, a model of clips, on a still image repeated as a static clip
// (as `pcnn predict` runs it on a still image) or on the camera's last frames.
import {
  ARPGNet, FERAtt, PCNN, adaptiveAvgPool2d, arpgnetAttention, undirectedAttention, decodeSafetensors, encodeSafetensors, flatten, keep, mean, noGrad, sigmoid, softmax, tensor, tidy, upload,
  type ARPGNetConfig, type FERAttConfig, type UndirectedAttention, type nn, type PCNNConfig, type Tensor,
} from '../src/index.js';
import { evalTransform } from '../src/fer/data/augment.js';

export type LoadedModel =
  | { family: 'pcnn'; model: PCNN; classNames: string[]; source: string; about: string }
  | { family: 'feratt'; model: FERAtt; classNames: string[]; source: string; about: string }
  | { family: 'arpgnet'; model: ARPGNet; classNames: string[]; source: string; about: string };

/** Frames per sample: T for a model of clips, 1 otherwise. */
export function framesOf(loaded: LoadedModel): number {
  return loaded.family === 'arpgnet' ? loaded.model.config.frames : 1;
}

/** The sense heads of PCNN, in the order of cropBoxes and of the model's local trunks. */
export const CROP_NAMES = ['left eye', 'right eye', 'left cheek', 'right cheek', 'mouth'];

/** What our checkpoints keep in their 'pcnn' metadata (src/fer/train.ts TrainingMeta) that we use. */
interface CheckpointMeta {
  model?: string;
  config?: PCNNConfig & FERAttConfig & { inputSize: [number, number] };
  classNames?: string[];
  epoch?: number;
  history?: { epoch: number; testAccuracy?: number }[];
  recipe?: { epochs?: number; batch?: number; lr?: number };
  /** Written by this page's download: what it was trained on. */
  trainedOn?: string;
}

/** Plain words for bytes that are not a safetensors checkpoint, from their first bytes. */
function notACheckpoint(bytes: Uint8Array, name: string): string | null {
  const starts = (...b: number[]) => b.every((v, i) => bytes[i] === v);
  if (bytes.length < 8) return `${name} is not a checkpoint: it is only ${bytes.length} bytes long.`;
  if (starts(0x89, 0x50, 0x4e, 0x47)) return `${name} is a PNG image, not a checkpoint. Choose it under "Image" instead; a checkpoint is the .safetensors file \`pcnn train\` writes.`;
  if (starts(0xff, 0xd8, 0xff)) return `${name} is a JPEG image, not a checkpoint. Choose it under "Image" instead; a checkpoint is the .safetensors file \`pcnn train\` writes.`;
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x80, 0x02)) {
    return `${name} looks like a PyTorch .pth file, which this page does not read. Load it with the CLI (\`pcnn eval --checkpoint ${name}\`), or use the .safetensors files \`pcnn train\` writes.`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || bytes[8] !== 0x7b /* '{' */) {
    return `${name} is not a safetensors checkpoint (its first bytes are not a safetensors header). Choose the .safetensors file \`pcnn train\` writes.`;
  }
  return null;
}

/** Host data as numbers; PyTorch's int64 counters (num_batches_tracked) arrive as BigInt64Array. */
function stateValue(key: string, t: { dtype: string; shape: number[]; data: ArrayLike<number> | BigInt64Array | BigUint64Array }, name: string) {
  if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL') {
    throw new Error(`${name}: tensor '${key}' is ${t.dtype}; this page reads only float32/float64 and integer tensors.`);
  }
  const data = t.data instanceof BigInt64Array || t.data instanceof BigUint64Array ? Array.from(t.data, Number) : (t.data as ArrayLike<number>);
  return { shape: t.shape, data };
}

/** What the model was trained on and how well it did, from its metadata, in one sentence. */
function describe(meta: CheckpointMeta, family: string): string {
  if (meta.trainedOn) return meta.trainedOn;
  const last = meta.history?.at(-1);
  const accuracy = last?.testAccuracy === undefined ? '' : `, ${(100 * last.testAccuracy).toFixed(0)}% on its test set`;
  if (meta.epoch === undefined && !last) return `a ${family} checkpoint whose metadata says nothing of its training`;
  const epochs = meta.epoch === undefined ? '' : ` for ${meta.epoch} epoch${meta.epoch === 1 ? '' : 's'}`;
  return `a ${family} trained${epochs} by \`pcnn train\`${accuracy}`;
}

/**
 * A model from one of our checkpoints (safetensors, configuration as JSON in metadata 'pcnn'), in eval
 * mode. Training checkpoints also hold optimizer state ('optimizer.*') and weight averages
 * ('average.*'), which inference has no use for; PCNN's separate layer4 statistics ('registration.*')
 * are loaded as `pcnn eval` loads them.
 */
export function modelFromCheckpoint(bytes: Uint8Array, name: string): LoadedModel {
  const problem = notACheckpoint(bytes, name);
  if (problem) throw new Error(problem);
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes, name);
  } catch (error) {
    throw new Error(`${name} is not a readable safetensors checkpoint (${(error as Error).message}).`);
  }
  const { tensors, metadata } = decoded;
  if (metadata.pcnn === undefined) {
    throw new Error(`${name} holds tensors but no 'pcnn' metadata, so its model and configuration are unknown. Use a checkpoint written by \`pcnn train\` (or this page's download).`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.pcnn) as CheckpointMeta;
  } catch (error) {
    throw new Error(`${name}: its 'pcnn' metadata is not valid JSON (${(error as Error).message}).`);
  }
  if (!meta.config) throw new Error(`${name}: its 'pcnn' metadata has no 'config' (the model's configuration).`);
  const family = meta.model ?? 'pcnn';
  if (family !== 'pcnn' && family !== 'feratt' && family !== 'arpgnet') throw new Error(`${name}: unknown model '${family}' (this page runs pcnn, feratt and arpgnet).`);
  const state: nn.StateDict = {};
  const registration: nn.StateDict = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('optimizer.') || key.startsWith('average.')) continue;
    if (key.startsWith('registration.')) registration[key.slice('registration.'.length)] = stateValue(key, t, name);
    else state[key] = stateValue(key, t, name);
  }
  // A diverged training's weights would predict NaN for every face: refuse them by name.
  for (const [key, value] of Object.entries(state)) {
    const data = (value as { data: ArrayLike<number> }).data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new Error(`${name} holds ${Number.isNaN(data[i]) ? 'NaN' : 'infinite'} weights (tensor '${key}'), so it cannot predict: a training that diverged? Train it again with a lower learning rate.`);
      }
    }
  }
  const classNames = meta.classNames ?? Array.from({ length: meta.config.numClasses ?? 7 }, (_, i) => `class ${i}`);
  const about = describe(meta, { pcnn: 'PCNN', feratt: 'FERAtt', arpgnet: 'ARPGNet' }[family]);
  if (family === 'arpgnet') {
    let model: ARPGNet;
    try {
      model = new ARPGNet(meta.config as unknown as ARPGNetConfig);
    } catch (error) {
      throw new Error(`${name}: its metadata does not describe an ARPGNet this page can build (${(error as Error).message}).`);
    }
    try {
      model.loadStateDict(state);
    } catch (error) {
      model.dispose();
      throw new Error(`${name}: its tensors do not fit the ARPGNet its metadata describes (${(error as Error).message}).`);
    }
    model.eval();
    return { family, model, classNames, source: name, about };
  }
  if (family === 'feratt') {
    const model = new FERAtt(meta.config);
    try {
      model.loadStateDict(state);
    } catch (error) {
      model.dispose();
      throw new Error(`${name}: its tensors do not fit the FERAtt its metadata describes (${(error as Error).message}).`);
    }
    model.eval();
    return { family, model, classNames, source: name, about };
  }
  const model = new PCNN(meta.config);
  try {
    model.loadStateDict(state);
    if (Object.keys(registration).length) loadRegistration(model, registration);
  } catch (error) {
    model.dispose();
    throw new Error(`${name}: its tensors do not fit the PCNN its metadata describes (${(error as Error).message}).`);
  }
  model.eval();
  return { family, model, classNames, source: name, about };
}

/** PCNN's layer4 statistics for its pass on x10 (mirrors loadRegistrationState of src/pcnn/registration-statistics.ts). */
function loadRegistration(model: PCNN, state: nn.StateDict): void {
  const statistics = model.layer4Norms().map((bn) => bn.newStatistics());
  statistics.forEach((s, i) => {
    for (const [t, key] of [[s.mean, `${i}.running_mean`], [s.variance, `${i}.running_var`]] as const) {
      const value = state[key];
      if (!value || 'buffer' in value) throw new Error(`registration statistics: '${key}' missing`);
      upload(t, Float32Array.from(value.data));
    }
  });
  model.setRegistrationStatistics(statistics);
}

export interface HeadPrediction {
  name: string;
  probabilities: Float32Array;
}

/** An attention graph, its directed weights folded to undirected pairs (mean of α_ij and α_ji) and α_ii. */
export interface GraphAttention {
  pairs: UndirectedAttention[];
  self: Float32Array;
}

/** ARPGNet's last relation layer on the region graph of each frame (null without the relation branch), and
 *  its last fusion layer on the fusion graph of the clip (node s·T + t: sequence s, step t). */
export interface ARPGNetGraphs {
  grid: number;
  frames: number;
  sequences: string[];
  region: GraphAttention[] | null;
  fusion: GraphAttention;
}

export interface Prediction {
  logits: Float32Array;
  probabilities: Float32Array;
  /** PCNN: each sense head's own probabilities (softmax of its logits), then of their sum (the heads' rule). */
  heads: HeadPrediction[];
  /** PCNN: channel means of x10 (reassembled local face) and x11 (its registration), [gh, gw] each. */
  x10?: Float32Array;
  x11?: Float32Array;
  mapSize?: [number, number];
  /** FERAtt: its attention map (sigmoid of the attention logits), [H, W] in [0, 1]. */
  attention?: Float32Array;
  attentionSize?: [number, number];
  /** ARPGNet: its graphs' attention, as `pcnn predict` draws it. */
  graphs?: ARPGNetGraphs;
  /** Milliseconds from upload to the read back. */
  milliseconds: number;
}

/**
 * The model's input from images [C, H, W] in [0, 1] at its size: PCNN and ARPGNet normalise, FERAtt does
 * not. A model of clips takes T frames: the last T given, the first repeated where there are fewer (a
 * still image is a static clip).
 */
export function modelInput(loaded: LoadedModel, ...images: Float32Array[]): Float32Array {
  const { inChannels, inputSize } = loaded.model.config;
  const shape = [inChannels, inputSize[0], inputSize[1]] as const;
  if (loaded.family === 'feratt') return images.at(-1)!;
  if (loaded.family === 'pcnn') return evalTransform(images.at(-1)!, shape);
  const T = loaded.model.config.frames;
  const frames = images.slice(-T);
  while (frames.length < T) frames.unshift(frames[0]);
  const plane = images[0].length;
  const clip = new Float32Array(T * plane);
  frames.forEach((frame, t) => clip.set(evalTransform(frame, shape), t * plane));
  return clip;
}

/** One image, [C, H, W] as `modelInput` makes it, through the model. */
export async function predict(loaded: LoadedModel, x: Float32Array): Promise<Prediction> {
  const began = performance.now();
  const { inChannels, inputSize } = loaded.model.config;
  const input = () => tensor(x, [1, inChannels, inputSize[0], inputSize[1]]);
  if (loaded.family === 'arpgnet') {
    // One forward pass gives the predictions and the attention of the last relation and fusion layers
    // (src/arpgnet/attention.ts, the computation `pcnn predict` draws).
    const model = loaded.model;
    const { grid, frames, branches } = model.config;
    const a = await arpgnetAttention(model, x, 1);
    const clip = a.clips[0];
    const graphs: ARPGNetGraphs = {
      grid, frames, sequences: branches === 'both' ? ['appearance', 'relation'] : [branches],
      region: clip.region?.map((alpha) => undirectedAttention(alpha, a.regionEdges, grid * grid)) ?? null,
      fusion: undirectedAttention(clip.fusion, a.fusionEdges, model.sequences * frames),
    };
    return { logits: a.logits, probabilities: a.probabilities, heads: [{ name: 'last step alone', probabilities: a.lastStep }], graphs, milliseconds: performance.now() - began };
  }
  if (loaded.family === 'feratt') {
    const model = loaded.model;
    const outputs = noGrad(() =>
      tidy(() => {
        const out = model.forward(input());
        return [out.logits, softmax(out.logits, 1), sigmoid(out.attention)].map((t) => keep(t));
      }),
    );
    const [logits, probabilities, attention] = await readAll(outputs);
    return { logits, probabilities, heads: [], attention, attentionSize: [inputSize[0], inputSize[1]], milliseconds: performance.now() - began };
  }
  const model = loaded.model;
  const outputs = noGrad(() =>
    tidy(() => {
      const d = model.forwardDetailed(input());
      const heads = d.localMaps.map((map, i) => softmax(model.senseHeads[i].forward(flatten(adaptiveAvgPool2d(map, [1, 1]))), 1));
      return [d.out, softmax(d.out, 1), mean(d.x10, 1), mean(d.x11, 1), softmax(d.heads, 1), ...heads].map((t) => keep(t));
    }),
  );
  const [gh, gw] = outputs[2].shape.slice(1);
  const [logits, probabilities, x10, x11, sum, ...heads] = await readAll(outputs);
  return {
    logits, probabilities, x10, x11, mapSize: [gh, gw],
    heads: [...heads.map((p, i) => ({ name: CROP_NAMES[i], probabilities: p })), { name: 'sum of the five', probabilities: sum }],
    milliseconds: performance.now() - began,
  };
}

async function readAll(outputs: Tensor[]): Promise<Float32Array[]> {
  try {
    return await Promise.all(outputs.map((t) => t.toArray()));
  } finally {
    outputs.forEach((t) => t.dispose());
  }
}

/** The model's tensors as a safetensors checkpoint `pcnn eval` / `predict` load (metadata as `pcnn train` writes it). */
export async function checkpointBytes(model: PCNN, meta: { classNames: string[]; trainedOn: string; steps: number }): Promise<Uint8Array> {
  const tensors: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
  for (const [key, t] of Object.entries(model.stateDict())) {
    tensors[key] = { shape: [...t.shape], data: t.dtype === 'int32' ? await t.toInt32Array() : await t.toArray() };
  }
  const pcnn = { model: 'pcnn', config: model.config, classNames: meta.classNames, trainedOn: meta.trainedOn, steps: meta.steps };
  return encodeSafetensors(tensors, { format: 'pcnn-webgpu/1', pcnn: JSON.stringify(pcnn) });
}
