/**
 * End to end: PCNN training steps (forward, two-phase loss, backward, SGD with momentum) and inference
 * passes, on random images and labels, at the configurations PyTorch 1.13 was timed at on the same
 * machine (bench/RESULTS.md), so that the figures sit next to PyTorch's. Each step reads its loss back, as
 * training does; the peak of the buffer pool is taken over the warm-up and timed steps of each mode.
 */
import { pool } from '../src/engine/pool.js';
import { Generator } from '../src/engine/random.js';
import { SGD } from '../src/optim/sgd.js';
import { PCNN } from '../src/pcnn/model.js';
import { predictBatch, trainStep, type Batch } from '../src/fer/step.js';
import { throughput, timeWork, type Stats, type Timing } from './harness.js';

export interface PcnnConfig {
  name: string;
  size: number;
  channels: number;
  width: number;
  batch: number;
  /** PyTorch 1.13, 2 threads, same machine: seconds per training step (notes/webgpu-on-cpu.md); absent
   *  where PyTorch was not timed at this configuration (the GPU kit's). */
  pytorchStepS?: number;
  /** Set when a step is too slow for quick mode on this adapter. */
  slow?: boolean;
}

export const PCNN_CONFIGS: PcnnConfig[] = [
  { name: '48 gray / w16 / b64', size: 48, channels: 1, width: 16, batch: 64, pytorchStepS: 0.103 },
  { name: '64 rgb / w16 / b32', size: 64, channels: 3, width: 16, batch: 32, pytorchStepS: 0.092 },
  { name: '224 rgb / w64 / b8', size: 224, channels: 3, width: 64, batch: 8, pytorchStepS: 1.29, slow: true },
];

export interface PcnnResult {
  config: PcnnConfig;
  parameters: number;
  train: Timing;
  trainImagesPerS: Stats;
  inference: Timing;
  inferenceImagesPerS: Stats;
  /** Highest bytes held by the buffer pool while training (model, momentum, activations, gradients) and
   *  while running inference. */
  peakTrainBytes: number;
  peakInferenceBytes: number;
  /** Our step time / PyTorch's (above 1: slower than PyTorch on the CPU); null without a PyTorch time. */
  vsPytorch: number | null;
}

function randomBatch(c: PcnnConfig, seed: number): Batch {
  const g = new Generator(seed);
  const x = new Float32Array(c.batch * c.channels * c.size * c.size);
  for (let i = 0; i < x.length; i++) x[i] = g.normal();
  const y = new Int32Array(c.batch);
  for (let i = 0; i < y.length; i++) y[i] = Math.floor(g.int(7));
  return { x, y };
}

export async function runPcnn(c: PcnnConfig, reps: number): Promise<PcnnResult> {
  const model = new PCNN({ inChannels: c.channels, width: c.width, numClasses: 7, inputSize: [c.size, c.size] });
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const batch = randomBatch(c, 1);
  try {
    model.train();
    // Two warm-up steps: the first compiles the pipelines, the second makes the momentum buffers.
    pool.resetPeak();
    const train = await timeWork(() => trainStep(model, optimizer, batch), reps, 2);
    const peakTrainBytes = pool.memory().peakBytesInUse;
    model.eval();
    pool.resetPeak();
    const inference = await timeWork(() => predictBatch(model, batch), reps);
    const peakInferenceBytes = pool.memory().peakBytesInUse;
    return {
      config: c,
      parameters: model.parameters().reduce((n, p) => n + p.size, 0),
      train,
      trainImagesPerS: throughput(c.batch, train.wallMs),
      inference,
      inferenceImagesPerS: throughput(c.batch, inference.wallMs),
      peakTrainBytes,
      peakInferenceBytes,
      vsPytorch: c.pytorchStepS ? train.wallMs.median / 1e3 / c.pytorchStepS : null,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
