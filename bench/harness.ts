/**
 * Timing for the benchmark suite: each case runs once untimed (pipeline compilation, pool warm-up),
 * then `reps` times; every repetition is submitted on its own and awaited, so that its wall time runs
 * from recording the first dispatch to the queue reporting the work done, and its GPU time is the sum of
 * its dispatches' timestamp-query durations. Figures are medians with the range (min..max) beside them:
 * the machines are shared, and a single number would hide how noisy they are.
 */
import { gpu } from '../src/engine/device.js';
import { timeKernels, type TimedDispatch } from '../src/engine/recorder.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface Timing {
  /** Milliseconds from recording to completion, per repetition. */
  wallMs: Stats;
  /** Milliseconds the adapter spent in the dispatches (timestamp queries); null without them. */
  gpuMs: Stats | null;
  /** GPU milliseconds per repetition by kernel, mean over the repetitions, largest first. */
  kernels: KernelShare[];
}

export interface KernelShare {
  kernel: string;
  gpuMs: number;
  dispatches: number;
}

function shares(timed: TimedDispatch[], reps: number): KernelShare[] {
  const byKernel = new Map<string, KernelShare>();
  for (const { label, ns } of timed) {
    const share = byKernel.get(label) ?? { kernel: label, gpuMs: 0, dispatches: 0 };
    share.gpuMs += ns / 1e6 / reps;
    share.dispatches += 1 / reps;
    byKernel.set(label, share);
  }
  return [...byKernel.values()].sort((a, b) => b.gpuMs - a.gpuMs);
}

export function stats(values: readonly number[]): Stats {
  if (!values.length) throw new Error('stats: no values to summarise');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

/** Throughput (`amount` per second) from times in ms: the slowest run gives the lowest figure. */
export function throughput(amount: number, ms: Stats): Stats {
  return { median: amount / (ms.median / 1e3), min: amount / (ms.max / 1e3), max: amount / (ms.min / 1e3), runs: ms.runs };
}

/**
 * Wall milliseconds of `run` (which awaits its own results), `warmup` untimed runs then `reps` timed
 * ones, without timestamp queries: the time a caller of the library waits, nothing added to it.
 */
export async function wallTimes(run: () => Promise<unknown>, warmup: number, reps: number): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return stats(times);
}

/**
 * Times `work`, which records GPU work and returns a promise of anything it reads back (or nothing):
 * `warmup` untimed runs, then `reps` timed ones, each submitted and awaited on its own.
 */
export async function timeWork(work: () => Promise<unknown> | void, reps: number, warmup = 1): Promise<Timing> {
  const { device } = gpu();
  const wall: number[] = [];
  const gpuTimes: number[] = [];
  const timed: TimedDispatch[] = [];
  for (let rep = -warmup; rep < reps; rep++) {
    const start = performance.now();
    let readback: Promise<unknown> | void = undefined;
    const durations = timeKernels(() => (readback = work()));
    await readback;
    await device.queue.onSubmittedWorkDone();
    const elapsed = performance.now() - start;
    const dispatches = await durations;
    if (rep < 0) continue;
    wall.push(elapsed);
    if (dispatches?.length) {
      gpuTimes.push(dispatches.reduce((sum, d) => sum + d.ns, 0) / 1e6);
      timed.push(...dispatches);
    }
  }
  return { wallMs: stats(wall), gpuMs: gpuTimes.length ? stats(gpuTimes) : null, kernels: shares(timed, reps) };
}

/** Times one of our ops without autograd; the tensors `fn` makes are disposed after each repetition. */
export function timeOp(fn: () => unknown, reps: number): Promise<Timing> {
  return timeWork(() => {
    tidy(() => {
      noGrad(fn);
    });
  }, reps);
}
