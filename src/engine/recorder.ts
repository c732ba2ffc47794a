/**
 * Records dispatches and copies into one command encoder and submits them in batches: at a readback,
 * at an explicit `flush()`, or when the uniform arena is full. Uniforms of all dispatches in a batch
 * live in one arena buffer (256-byte slots bound by dynamic offset), written once just before submit;
 * queue order makes reusing the arena for the next batch safe.
 *
 * `DEBUG=1` (env var in Node, `globalThis.DEBUG` in a browser) prints each dispatch with its kernel,
 * shapes and workgroups; `DEBUG=2` adds each dispatch's GPU time from timestamp queries.
 */
import { cpuAdapter, gpu, onRelease, throwPendingGpuError } from './device.js';
import type { Constants, Kernel, Uniforms } from './kernel.js';

const SLOT = 256;
const ARENA_BYTES = 1 << 20;
const MAX_TIMED = 1024;

export interface Bindable {
  readonly buffer: GPUBuffer;
  readonly shape?: readonly number[];
  /** A packed tensor's range of `buffer` (see `packTensors`): bound from byteOffset, bindBytes long. */
  readonly byteOffset?: number;
  readonly bindBytes?: number;
}

/** One dispatch timed by `timeDispatches`: its label (the kernel's name; with DEBUG, its shapes too). */
export interface TimedDispatch {
  label: string;
  ns: number;
}

export interface DispatchArgs {
  workgroups: readonly number[];
  buffers: Record<string, Bindable>;
  uniforms?: Uniforms;
  constants?: Constants;
}

/** Per buffer, a count of the writes recorded to it (dispatches binding it read_write, copies into it). */
const versions = new WeakMap<GPUBuffer, number>();

function bumpVersion(buffer: GPUBuffer): void {
  versions.set(buffer, (versions.get(buffer) ?? 0) + 1);
}

/**
 * How many writes to `buffer` have been recorded so far (dispatches that bind it read_write, copies into
 * it). Equal counts mean equal contents, so a value derived from buffers (BatchNorm folded into a
 * convolution's weights for inference) can be cached against their versions. Conservative: a write to
 * any range of a packed buffer counts for all of it.
 */
export function contentVersion(buffer: GPUBuffer): number {
  return versions.get(buffer) ?? 0;
}

function debugLevel(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return Number(env?.DEBUG ?? (globalThis as { DEBUG?: unknown }).DEBUG ?? 0) || 0;
}

class CommandRecorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer | null = null;
  private readonly arenaData = new ArrayBuffer(ARENA_BYTES);
  private readonly arenaView = new DataView(this.arenaData);
  private arenaUsed = 0;
  private afterSubmit: (() => void)[] = [];
  private timed: string[] = [];
  /** While `timeDispatches` runs: the GPU durations of each submitted batch, instead of printing them. */
  private timing: Promise<TimedDispatch[]>[] | null = null;
  private querySet: GPUQuerySet | null = null;
  readonly debug = debugLevel();
  /** Dispatches recorded since the process started (for tests and benchmarks). */
  dispatchCount = 0;
  submitCount = 0;
  /** beforeReadback: a hash of the dispatches recorded since the last readback began; that readback
   *  (its key, start time and dispatch count); milliseconds its work took, by key. */
  private signature = 0;
  private epoch = { key: '', start: 0, end: 0, updated: true };
  private readonly expectedMs = new Map<string, number>();

  dispatch(kernel: Kernel, args: DispatchArgs): void {
    const { device, hasTimestamps } = gpu();
    const workgroups = args.workgroups;
    if (workgroups.some((n) => n === 0)) return;
    const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
    if (workgroups.some((n) => n > limit || !Number.isInteger(n) || n < 0)) {
      throw new Error(`kernel ${kernel.name}: workgroup counts [${workgroups}] outside 0..${limit}`);
    }
    if (kernel.uniformBinding !== null && this.arenaUsed + SLOT > ARENA_BYTES) this.flush();
    const encoder = this.beginEncoder(device);
    this.arena ??= device.createBuffer({
      size: ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform arena',
    });

    const buffers: Record<string, GPUBufferBinding> = {};
    for (const [name, value] of Object.entries(args.buffers)) {
      buffers[name] = value.bindBytes === undefined ? { buffer: value.buffer } : { buffer: value.buffer, offset: value.byteOffset, size: value.bindBytes };
    }
    const pipeline = kernel.pipeline(args.constants);
    const bindGroup = kernel.bindGroup(buffers, kernel.uniformBinding === null ? null : this.arena);
    for (const b of kernel.storage) if (!b.readOnly) bumpVersion(buffers[b.name].buffer);
    const offsets: number[] = [];
    if (kernel.uniformBinding !== null) {
      if (kernel.uniformSize > SLOT) throw new Error(`kernel ${kernel.name}: uniforms larger than ${SLOT} bytes`);
      kernel.packUniforms(args.uniforms ?? {}, this.arenaView, this.arenaUsed);
      offsets.push(this.arenaUsed);
      this.arenaUsed += SLOT;
    }

    const timed = (this.debug >= 2 || this.timing !== null) && hasTimestamps;
    const label = this.debug ? describe(kernel, args) : kernel.name;
    if (timed) {
      this.endPass();
      this.querySet ??= device.createQuerySet({ type: 'timestamp', count: 2 * MAX_TIMED });
      const index = this.timed.length;
      this.pass = encoder.beginComputePass({
        label,
        timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
      });
      this.timed.push(label);
    } else if (this.debug) {
      console.error(`[dispatch] ${label}`);
    }
    this.pass ??= encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup, offsets);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.dispatchCount++;
    this.signature = (Math.imul(this.signature, 31) + kernel.id * 8191 + workgroups[0] + 131 * (workgroups[1] ?? 1) + 8209 * (workgroups[2] ?? 1)) | 0;
    if (timed) {
      this.endPass();
      if (this.timed.length === MAX_TIMED) this.flush();
    }
  }

  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    if (bytes === 0) return;
    bumpVersion(target);
    const encoder = this.beginEncoder(gpu().device);
    this.endPass();
    encoder.copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
  }

  /**
   * Waits, without polling, for most of the time the GPU is expected to need for the work recorded since
   * the last readback began; resolves to a function to call once the readback has completed.
   * Why: a pending mapAsync makes Dawn's Node binding tick the device in a setImmediate loop, which on a
   * CPU adapter (lavapipe, SwiftShader) takes a core from the threads doing the work (measured on the
   * 2-core machine: the main thread used 0.8 s of CPU per PCNN training step of 1.7 s, mostly in that
   * loop; 0.1-0.15 s with this wait). The expected time is learned per signature of that work (the
   * dispatch count and a hash of the kernels and workgroup counts), so only work seen before waits (a
   * steady training or inference loop): 85% of the last times seen (a moving average), halved where the
   * readback then came back at once. Other adapters, and work not seen before, do not wait.
   */
  /** How many signatures of work beforeReadback has timed (for tests). */
  get timedReadbacks(): number {
    return this.expectedMs.size;
  }

  async beforeReadback(): Promise<() => void> {
    if (this.dispatchCount !== this.epoch.end) {
      const key = `${this.dispatchCount - this.epoch.end}:${this.signature}`;
      this.epoch = { key, start: performance.now(), end: this.dispatchCount, updated: false };
      this.signature = 0;
    }
    const epoch = this.epoch;
    const expected = cpuAdapter(gpu().adapter) ? this.expectedMs.get(epoch.key) : undefined;
    const sleep = expected === undefined ? 0 : 0.85 * expected - (performance.now() - epoch.start);
    if (sleep >= 2) await new Promise((resolve) => setTimeout(resolve, sleep));
    return () => {
      if (epoch.updated) return;
      epoch.updated = true;
      const elapsed = performance.now() - epoch.start;
      if (this.expectedMs.size > 256) this.expectedMs.clear();
      if (expected === undefined) this.expectedMs.set(epoch.key, elapsed);
      else if (sleep >= 2 && elapsed - sleep < 1) this.expectedMs.set(epoch.key, expected / 2);
      else this.expectedMs.set(epoch.key, 0.7 * expected + 0.3 * elapsed);
    };
  }

  /** Runs `fn` after the current batch has been submitted (to destroy staging buffers, say). */
  onSubmit(fn: () => void): void {
    this.afterSubmit.push(fn);
  }

  /** Submits everything recorded so far; throws the first GPU error seen, naming the kernel. */
  flush(): void {
    throwPendingGpuError('before flush');
    if (!this.encoder) return;
    const { device } = gpu();
    this.endPass();
    const encoder = this.encoder;
    this.encoder = null;
    if (this.arenaUsed) device.queue.writeBuffer(this.arena!, 0, this.arenaData, 0, this.arenaUsed);
    this.arenaUsed = 0;
    const timed = this.timed;
    let readTimes: GPUBuffer | null = null;
    if (timed.length) {
      const bytes = 16 * timed.length;
      const resolved = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      readTimes = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.resolveQuerySet(this.querySet!, 0, 2 * timed.length, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readTimes, 0, bytes);
      this.afterSubmit.push(() => resolved.destroy());
      this.timed = [];
    }
    device.queue.submit([encoder.finish()]);
    this.submitCount++;
    for (const fn of this.afterSubmit) fn();
    this.afterSubmit = [];
    if (readTimes) {
      const durations = readDurations(readTimes);
      if (this.timing) this.timing.push(durations.then((ns) => ns.map((n, i) => ({ label: timed[i], ns: n }))));
      else void durations.then((ns) => printTimes(ns, timed));
    }
    throwPendingGpuError('in the batch just submitted');
  }

  /**
   * Runs `fn`, submits what it recorded and resolves to the GPU nanoseconds of each of its dispatches
   * (timestamp queries around each one, as DEBUG=2 does); null where the adapter has no timestamps.
   * Work recorded before is submitted first, untimed. For benchmarks.
   */
  async timeDispatches(fn: () => void): Promise<number[] | null> {
    return (await this.timeKernels(fn))?.map((d) => d.ns) ?? null;
  }

  /** `timeDispatches` with each duration's label (the kernel's name). */
  async timeKernels(fn: () => void): Promise<TimedDispatch[] | null> {
    this.flush();
    if (!gpu().hasTimestamps) {
      fn();
      this.flush();
      return null;
    }
    const pending: Promise<TimedDispatch[]>[] = [];
    this.timing = pending;
    try {
      fn();
      this.flush();
    } finally {
      this.timing = null;
    }
    return (await Promise.all(pending)).flat();
  }

  constructor() {
    // Objects of a released device are unusable, and so is the work recorded for it.
    onRelease(() => {
      this.encoder = null;
      this.expectedMs.clear();
      this.pass = null;
      this.arena = null;
      this.querySet = null;
      this.arenaUsed = 0;
      this.timed = [];
      this.afterSubmit = [];
    });
  }

  private beginEncoder(device: GPUDevice): GPUCommandEncoder {
    this.encoder ??= device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

function describe(kernel: Kernel, args: DispatchArgs): string {
  const shapes = Object.entries(args.buffers)
    .map(([name, b]) => `${name}[${b.shape?.join('x') ?? ''}]`)
    .join(' ');
  const constants = args.constants && Object.keys(args.constants).length ? ` ${JSON.stringify(args.constants)}` : '';
  return `${kernel.name}${constants} ${shapes} wg=[${args.workgroups.join(',')}]`;
}

/** Nanoseconds between each pair of timestamps (begin and end of one timed pass). */
async function readDurations(buffer: GPUBuffer): Promise<number[]> {
  await buffer.mapAsync(GPUMapMode.READ);
  const stamps = new BigUint64Array(buffer.getMappedRange().slice(0));
  buffer.destroy();
  return Array.from({ length: stamps.length / 2 }, (_, i) => Number(stamps[2 * i + 1] - stamps[2 * i]));
}

function printTimes(nanoseconds: number[], labels: string[]): void {
  labels.forEach((label, i) => {
    console.error(`[dispatch] ${(nanoseconds[i] / 1000).toFixed(1).padStart(10)} µs  ${label}`);
  });
}

export const recorder = new CommandRecorder();

/** Records one dispatch of `kernel` (see `DispatchArgs`). */
export function dispatch(kernel: Kernel, args: DispatchArgs): void {
  recorder.dispatch(kernel, args);
}

/** GPU nanoseconds of each dispatch `fn` records (see `CommandRecorder.timeDispatches`). */
export function timeDispatches(fn: () => void): Promise<number[] | null> {
  return recorder.timeDispatches(fn);
}

/** The same, each duration with its kernel's name. */
export function timeKernels(fn: () => void): Promise<TimedDispatch[] | null> {
  return recorder.timeKernels(fn);
}

/** Submits all recorded GPU work now. */
export function flush(): void {
  recorder.flush();
}

/** Workgroup counts for `n` workgroups in a line, folded into y past the per-dimension limit.
 *  Shaders recover the linear index as `wid.x + wid.y * nwg.x`. */
export function workgroups1d(n: number): [number, number, number] {
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (n <= limit) return [n, 1, 1];
  const y = Math.ceil(n / limit);
  return [Math.ceil(n / y), y, 1];
}
