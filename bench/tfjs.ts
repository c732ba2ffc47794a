/**
 * The peer: TF.js's WebGPU backend on the same adapter, in the same process. Its backend finds WebGPU
 * only through `navigator.gpu`, which Node 20 lacks, so the one Dawn instance is published there before
 * the backend is imported; our engine's `init()` then takes the same instance (device.ts prefers
 * `navigator.gpu`), and both run on one adapter with separate devices.
 */
import type * as TF from '@tensorflow/tfjs';
import { stats, type Timing } from './harness.js';

export type Tfjs = typeof TF;
type TfTensor = TF.Tensor;

/** Publishes Dawn as `navigator.gpu` (before our `init()`), then loads TF.js with its WebGPU backend.
 *  Returns null, with the reason, when the backend cannot start. */
export async function loadTfjs(): Promise<{ tf: Tfjs | null; error?: string }> {
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  // The navigator object keeps Dawn's instance reachable for the life of the process (a collected
  // instance aborts the next await inside Dawn); the suite ends with process.exit.
  if (!nav?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu: dawn.create([]) }, configurable: true });
  try {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return { tf: null, error: 'tf.setBackend("webgpu") returned false' };
    await tf.ready();
    return { tf };
  } catch (error) {
    return { tf: null, error: (error as Error).message };
  }
}

interface WebGpuBackend {
  device: GPUDevice;
}

/**
 * Times a TF.js computation like `timeWork` times ours: one untimed run, then `reps` runs each awaited
 * on the queue; GPU time is the sum of TF.js's per-program timestamp queries (`tf.time`'s kernelMs).
 */
export async function timeTf(tf: Tfjs, fn: () => TfTensor | TfTensor[], reps: number): Promise<Timing> {
  const { device } = tf.backend() as unknown as WebGpuBackend;
  const wall: number[] = [];
  const kernel: number[] = [];
  for (let rep = -1; rep < reps; rep++) {
    const start = performance.now();
    const info = await tf.time(() => {
      tf.tidy(() => {
        fn();
      });
    });
    await device.queue.onSubmittedWorkDone();
    if (rep < 0) continue;
    wall.push(performance.now() - start);
    if (typeof info.kernelMs === 'number' && info.kernelMs > 0) kernel.push(info.kernelMs);
  }
  return { wallMs: stats(wall), gpuMs: kernel.length ? stats(kernel) : null, kernels: [] };
}
