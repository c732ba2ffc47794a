/**
 * The adapter's ceiling as this engine sees it: the fastest matmul our kernels reach (over the matmul
 * tunings worth trying, not only the one the adapter table picks) and the bandwidth of the simplest
 * compute-shader copy. Every other figure of the suite is read as a fraction of these two.
 */
import { Kernel } from '../src/engine/kernel.js';
import { dispatch, recorder, workgroups1d } from '../src/engine/recorder.js';
import { empty, randn } from '../src/engine/tensor.js';
import { matmul, matmulTuning, setMatmulTuning, type MatmulTuning } from '../src/kernels/matmul/index.js';
import { throughput, timeOp, type Stats, type Timing } from './harness.js';
import copySource from '../shaders/bench/copy.wgsl';

const copyKernel = new Kernel('bench_copy', copySource);

export interface Ceiling {
  matmul: { size: number; tuning: MatmulTuning; timing: Timing; gflops: Stats };
  /** Every tuning tried: `variant [x,y]` → median GFLOP/s (wall), or the error that ruled it out. */
  matmulTried: Record<string, number | string>;
  copy: { bytes: number; timing: Timing; gbps: Stats };
  /** copyBufferToBuffer of the same buffers: what the driver's own copy path moves, for scale. */
  bufferCopy: { bytes: number; timing: Timing; gbps: Stats };
}

const CANDIDATES: MatmulTuning[] = [
  { variant: 'registers', workgroup: [8, 1] },
  { variant: 'registers', workgroup: [16, 1] },
  { variant: 'registers', workgroup: [32, 1] },
  { variant: 'registers', workgroup: [64, 1] },
  { variant: 'tiled', workgroup: [16, 16] },
  { variant: 'tiled', workgroup: [8, 8] },
];

const label = (t: MatmulTuning) => `${t.variant} [${t.workgroup}]`;

/** GPU time when the adapter has timestamps, else wall time: the figure a ceiling is taken from. */
export const bestMs = (t: Timing): Stats => t.gpuMs ?? t.wallMs;

export async function measureCeiling(options: { quick: boolean; reps: number }): Promise<Ceiling> {
  const size = 1024;
  const flop = 2 * size ** 3;
  const a = randn([size, size]);
  const b = randn([size, size]);
  const tried: Record<string, number | string> = {};
  let best: Ceiling['matmul'] | null = null;
  const adapterDefault = matmulTuning();
  const candidates = [adapterDefault, ...CANDIDATES.filter((t) => label(t) !== label(adapterDefault))];
  try {
    for (const tuning of options.quick ? candidates.slice(0, 4) : candidates) {
      try {
        setMatmulTuning(tuning);
        const timing = await timeOp(() => matmul(a, b), options.reps);
        const gflops = throughput(flop / 1e9, bestMs(timing));
        tried[label(tuning)] = gflops.median;
        if (!best || gflops.median > best.gflops.median) best = { size, tuning, timing, gflops };
      } catch (error) {
        tried[label(tuning)] = (error as Error).message;
      }
    }
  } finally {
    setMatmulTuning(null);
    a.dispose();
    b.dispose();
  }
  if (!best) throw new Error(`bench ceiling: no matmul tuning ran: ${JSON.stringify(tried)}`);

  // 64 MiB: far beyond any cache, and half the 128 MiB binding limit of lavapipe.
  const count = 16 << 20;
  const bytes = 2 * 4 * count;
  const src = randn([count]);
  const dst = empty([count]);
  try {
    const copy = await timeOp(() => {
      dispatch(copyKernel, { workgroups: workgroups1d(Math.ceil(count / 4 / 256)), buffers: { src, dst }, uniforms: { count: count / 4 } });
    }, options.reps);
    // copyBufferToBuffer records no dispatch, so it has no GPU time: wall time only.
    const bufferCopy = await timeOp(() => recorder.copy(src.buffer, 0, dst.buffer, 0, 4 * count), options.reps);
    return {
      matmul: best,
      matmulTried: tried,
      copy: { bytes, timing: copy, gbps: throughput(bytes / 1e9, bestMs(copy)) },
      bufferCopy: { bytes, timing: bufferCopy, gbps: throughput(bytes / 1e9, bufferCopy.wallMs) },
    };
  } finally {
    src.dispose();
    dst.dispose();
  }
}
