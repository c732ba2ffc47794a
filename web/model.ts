// Models for the demo: from a checkpoint's bytes, and inference with the maps worth showing.
import { PCNN, decodeSafetensors, keep, mean, noGrad, softmax, tensor, tidy, type nn, type PCNNConfig } from '../src/index.js';

export interface LoadedModel {
  model: PCNN;
  classNames: string[];
  /** Where it came from, for the page. */
  source: string;
}

/** What our checkpoints keep in their 'pcnn' metadata (src/fer/train.ts TrainingMeta) that we use. */
interface CheckpointMeta {
  config?: PCNNConfig;
  classNames?: string[];
}

/**
 * A PCNN from one of our checkpoints (safetensors, model config as JSON in metadata 'pcnn'), in eval
 * mode. Training checkpoints also hold optimizer state ('optimizer.*'), which inference has no use for.
 */
export function modelFromCheckpoint(bytes: Uint8Array, name: string): LoadedModel {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  if (metadata.pcnn === undefined) {
    throw new Error(`${name}: no 'pcnn' metadata, so the model's config is unknown (expected a checkpoint of \`pcnn train\`)`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.pcnn) as CheckpointMeta;
  } catch (error) {
    throw new Error(`${name}: metadata 'pcnn' is not valid JSON (${(error as Error).message})`);
  }
  if (!meta.config) throw new Error(`${name}: metadata 'pcnn' has no 'config' (the PCNN constructor's options)`);
  const state: nn.StateDict = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('optimizer.')) continue;
    if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL') {
      throw new Error(`${name}: tensor '${key}' is ${t.dtype}; only float32/float64 and integer tensors are supported`);
    }
    // PyTorch's int64 counters (num_batches_tracked) arrive as BigInt64Array.
    const data = t.data instanceof BigInt64Array || t.data instanceof BigUint64Array ? Array.from(t.data, Number) : t.data;
    state[key] = { shape: t.shape, data };
  }
  const model = new PCNN(meta.config);
  model.loadStateDict(state);
  model.eval();
  const classNames = meta.classNames ?? Array.from({ length: model.config.numClasses }, (_, i) => `class ${i}`);
  return { model, classNames, source: name };
}

export interface Prediction {
  logits: Float32Array;
  probabilities: Float32Array;
  /** Channel means of x10 (reassembled local face) and x11 (its registration), [gh, gw] each. */
  x10: Float32Array;
  x11: Float32Array;
  mapSize: [number, number];
}

/** One image, [C, H, W] already normalised, through the model. */
export async function predict(model: PCNN, x: Float32Array): Promise<Prediction> {
  const { inChannels, inputSize } = model.config;
  const outputs = noGrad(() =>
    tidy(() => {
      const d = model.forwardDetailed(tensor(x, [1, inChannels, inputSize[0], inputSize[1]]));
      return [d.out, softmax(d.out, 1), mean(d.x10, 1), mean(d.x11, 1)].map((t) => keep(t));
    }),
  );
  try {
    const [logits, probabilities, x10, x11] = await Promise.all(outputs.map((t) => t.toArray()));
    const [gh, gw] = outputs[2].shape.slice(1);
    return { logits, probabilities, x10, x11, mapSize: [gh, gw] };
  } finally {
    outputs.forEach((t) => t.dispose());
  }
}
