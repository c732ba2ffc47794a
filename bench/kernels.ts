/** Runs the kernel cases, ours and TF.js's, and reduces each to a rate and a speedup. */
import { throughput, timeOp, type Stats, type Timing } from './harness.js';
import { bestMs } from './ceiling.js';
import { timeTf, type Tfjs } from './tfjs.js';
import type { Group, KernelCase, Prepared } from './cases.js';

export interface KernelResult {
  group: Group;
  config: string;
  name: string;
  is3x3: boolean;
  unit: 'GFLOP/s' | 'GB/s';
  ours: Timing;
  /** GFLOP/s or GB/s from GPU time (wall time without timestamps). */
  rate: Stats;
  theirs: Timing | null;
  theirRate: Stats | null;
  /** TF.js median wall time / ours: above 1, we are faster. */
  speedup: number | null;
  /** Why TF.js has no figure (no peer op, or its error). */
  note?: string;
}

async function withPrepared<T, R>(prepare: () => Prepared<T>, use: (p: Prepared<T>) => Promise<R>): Promise<R> {
  const prepared = prepare();
  try {
    return await use(prepared);
  } finally {
    prepared.dispose();
  }
}

export async function runKernelCase(c: KernelCase, tf: Tfjs | null, reps: number): Promise<KernelResult> {
  const unit = c.flop !== undefined ? 'GFLOP/s' : 'GB/s';
  const amount = (c.flop ?? c.bytes!) / 1e9;
  const ours = await withPrepared(c.ours, (p) => timeOp(p.run, reps));
  let theirs: Timing | null = null;
  let note: string | undefined;
  if (!c.theirs) note = 'no TF.js peer';
  else if (!tf) note = 'TF.js not loaded';
  else {
    try {
      const peer = c.theirs;
      theirs = await withPrepared(() => peer(tf), (p) => timeTf(tf, p.run, reps));
    } catch (error) {
      note = `TF.js failed: ${(error as Error).message}`;
    }
  }
  return {
    group: c.group,
    config: c.config,
    name: c.name,
    is3x3: c.is3x3 ?? false,
    unit,
    ours,
    rate: throughput(amount, bestMs(ours)),
    theirs,
    theirRate: theirs ? throughput(amount, bestMs(theirs)) : null,
    speedup: theirs ? theirs.wallMs.median / ours.wallMs.median : null,
    note,
  };
}
