/**
 * Storage buffers recycled by size class. A class is the request rounded up to a quarter of its power
 * of two (at most 25% waste), so that shapes that vary a little still share buffers. Buffers are never
 * destroyed while the pool lives.
 *
 * A request gets the free buffer of its class that was created first, not the one released last: the
 * choice then depends only on which buffers are free, not on the order they came back in. A training
 * step that starts from the same free set (all of the previous step's tensors released) makes the same
 * requests and gets exactly the same buffers, so its bind groups all come from the cache. With a
 * last-in-first-out list the assignment permuted from step to step, and tens of thousands of distinct
 * bind groups were made over a few hundred steps.
 */
import { gpu, onRelease } from './device.js';
import { recorder } from './recorder.js';

const usage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export interface PoolStats {
  /** Bytes of buffers handed out and not yet released (by size class). */
  bytesInUse: number;
  /** Bytes of all buffers the pool has created (in use plus free). */
  bytesAllocated: number;
  /** Highest `bytesInUse` since the last `resetPeak()`. */
  peakBytesInUse: number;
  buffersInUse: number;
}

export function sizeClass(bytes: number): number {
  const n = Math.max(bytes, 16);
  const step = 2 ** Math.max(Math.floor(Math.log2(n)) - 2, 4);
  return Math.ceil(n / step) * step;
}

export class BufferPool {
  /** Free buffers per size class, by creation order, latest first (the next one handed out is last). */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly creationOrder = new WeakMap<GPUBuffer, number>();
  private created = 0;
  private stats: PoolStats = { bytesInUse: 0, bytesAllocated: 0, peakBytesInUse: 0, buffersInUse: 0 };
  /** Buffers of the current device; those of a released device are dropped, not pooled. */
  private owned = new WeakSet<GPUBuffer>();

  constructor() {
    // The old buffers die with the old device; tensors still holding one give it back to nobody.
    onRelease(() => {
      this.free.clear();
      this.owned = new WeakSet();
      this.stats = { bytesInUse: 0, bytesAllocated: 0, peakBytesInUse: 0, buffersInUse: 0 };
    });
  }

  acquire(bytes: number, what: string): GPUBuffer {
    const { device, limits } = gpu();
    const size = sizeClass(bytes);
    if (size > limits.maxStorageBufferBindingSize || size > limits.maxBufferSize) {
      throw new Error(
        `${what}: needs a buffer of ${bytes} bytes, more than this adapter allows in one binding ` +
          `(maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}); use a smaller batch or shape`,
      );
    }
    let buffer = this.free.get(size)?.pop();
    if (!buffer) {
      buffer = device.createBuffer({ size, usage: usage(), label: `pool:${size}` });
      this.owned.add(buffer);
      this.creationOrder.set(buffer, this.created++);
      this.stats.bytesAllocated += size;
    }
    this.stats.bytesInUse += size;
    this.stats.buffersInUse++;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.owned.has(buffer)) return;
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    // Insert keeping the list sorted by creation, latest first (free lists are short).
    const order = this.creationOrder.get(buffer)!;
    let at = list.length;
    while (at > 0 && this.creationOrder.get(list[at - 1])! < order) at--;
    list.splice(at, 0, buffer);
    this.stats.bytesInUse -= size;
    this.stats.buffersInUse--;
  }

  memory(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  /** Destroys the free buffers (those in use are kept). A free buffer may still be read or written by
   *  work recorded before its tensor was disposed, and a destroyed buffer fails the submit that uses
   *  it, so that work is submitted first; work already submitted keeps its buffers alive by itself. */
  trim(): void {
    recorder.flush();
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.stats.bytesAllocated -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}

export const pool = new BufferPool();
