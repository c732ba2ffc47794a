/**
 * Batching, like torch.utils.data.DataLoader: shuffled per epoch, optional drop_last, batches of
 * { x: Float32 [B, C, H, W], y: Int32 [B] }.
 *
 * Reproducible from a seed alone: the order of epoch e is a permutation drawn from (seed, e) and the
 * augmentation of batch b of epoch e from (seed, e, b), so a run resumed at any epoch (or batch) sees
 * exactly the batches it would have seen, whatever was prefetched.
 *
 * Prefetching: while the caller works on batch b (recording GPU work and awaiting its results), batch
 * b + 1 is prepared on the main thread in chunks of `chunk` samples, one chunk per setImmediate, so
 * decoding/drawing and augmentation run whenever the caller awaits the GPU, and the event loop stays
 * responsive. No worker thread: samples and transforms need not be serialisable, and on two cores a
 * worker would compete with the WebGPU backend's own threads. `stats` measures how well it overlaps:
 * `waitMs` is the time the caller waited for a batch that was not ready yet.
 */
import { Generator } from '../../engine/random.js';
import { mixSeed } from './seed.js';
import type { Sample } from './types.js';
import type { Shape } from './warp.js';

/** Samples in memory, or drawn on demand (e.g. syntheticDataset); a dataset whose samples change from
 *  epoch to epoch (compositeDataset's faces on new backgrounds) takes the epoch as well. */
export type Dataset = readonly Sample[] | { readonly length: number; get(index: number, epoch?: number): Sample };

/** Sample `index` of `dataset` (of epoch `epoch`, for a dataset that changes with it), whichever form it has. */
export function sampleAt(dataset: Dataset): (index: number, epoch?: number) => Sample {
  return 'get' in dataset ? (index, epoch) => dataset.get(index, epoch) : (index) => (dataset as readonly Sample[])[index];
}

/** Maps one [0, 1] image to the model's input (e.g. `augment` for training, `evalTransform` for testing). */
export type Transform = (image: Float32Array, shape: Shape, g: Generator) => Float32Array;

export interface LoaderOptions {
  batchSize: number;
  /** [C, H, W] of every sample. */
  shape: Shape;
  shuffle?: boolean;
  seed?: number;
  dropLast?: boolean;
  /** Applied to each sample (default: none, images as stored). */
  transform?: Transform;
  /** Samples prepared per event-loop turn while prefetching (default 8). */
  chunk?: number;
}

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  /** The samples' `clean` images (the face without its background), where the dataset has them. */
  clean?: Float32Array;
  /** Dataset index of each row. */
  indices: Int32Array;
}

const ORDER_STREAM = 0x6f726472;
const AUGMENT_STREAM = 0x61756720;

export class DataLoader {
  readonly batchSize: number;
  readonly shape: Shape;
  readonly stats = { batches: 0, prepareMs: 0, waitMs: 0 };
  private readonly get: (index: number, epoch: number) => Sample;
  private readonly options: Required<Omit<LoaderOptions, 'transform'>> & { transform?: Transform };

  constructor(readonly dataset: Dataset, options: LoaderOptions) {
    const { batchSize, shape, shuffle = true, seed = 0, dropLast = false, chunk = 8 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`DataLoader: shape must be [C, H, W] of positive integers, got [${shape}]`);
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`DataLoader: chunk must be a positive integer, got ${chunk}`);
    if (dataset.length === 0) throw new Error('DataLoader: the dataset is empty');
    this.batchSize = batchSize;
    this.shape = shape;
    this.options = { batchSize, shape, shuffle, seed, dropLast, chunk, transform: options.transform };
    this.get = sampleAt(dataset);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The dataset indices of epoch `epoch` in the order served: f(seed, epoch) only. */
  order(epoch: number): Int32Array {
    const indices = Int32Array.from({ length: this.dataset.length }, (_, i) => i);
    if (!this.options.shuffle) return indices;
    const g = new Generator(mixSeed(this.options.seed, epoch, ORDER_STREAM));
    for (let i = indices.length - 1; i > 0; i--) {
      const j = g.int(i + 1);
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    return indices;
  }

  /** Batch `b` of epoch `epoch`, prepared synchronously. */
  batch(epoch: number, b: number): Batch {
    const job = this.start(this.order(epoch), epoch, b);
    while (!job.done()) job.step(Infinity);
    return job.result();
  }

  /** The batches of epoch `epoch`, from batch `from` on, each prepared while the previous one is in use. */
  async *epoch(epoch: number, from = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    let next = from < this.length ? this.prefetch(order, epoch, from) : null;
    for (let b = from; next; b++) {
      const waitStart = performance.now();
      const batch = await next;
      this.stats.waitMs += performance.now() - waitStart;
      next = b + 1 < this.length ? this.prefetch(order, epoch, b + 1) : null;
      yield batch;
    }
  }

  private prefetch(order: Int32Array, epoch: number, b: number): Promise<Batch> {
    const job = this.start(order, epoch, b);
    const promise = new Promise<Batch>((resolve, reject) => {
      const turn = () => {
        try {
          job.step(this.options.chunk);
          if (job.done()) resolve(job.result());
          else setImmediate(turn);
        } catch (error) {
          reject(error);
        }
      };
      setImmediate(turn);
    });
    // A caller that stops iterating early never awaits this one: its failure must not be unhandled.
    promise.catch(() => undefined);
    return promise;
  }

  /** Preparation of one batch as resumable steps. */
  private start(order: Int32Array, epoch: number, b: number) {
    if (!Number.isInteger(b) || b < 0 || b >= this.length) throw new Error(`DataLoader: batch ${b} is out of range 0..${this.length - 1}`);
    const [c, h, w] = this.shape;
    const size = c * h * w;
    const indices = order.slice(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
    const x = new Float32Array(indices.length * size);
    const y = new Int32Array(indices.length);
    let clean: Float32Array | undefined;
    const g = new Generator(mixSeed(this.options.seed, epoch, b, AUGMENT_STREAM));
    let i = 0;
    return {
      done: () => i === indices.length,
      result: (): Batch => ({ x, y, indices, ...(clean ? { clean } : {}) }),
      step: (count: number) => {
        const t = performance.now();
        for (const end = Math.min(indices.length, i + count); i < end; i++) {
          const sample = this.get(indices[i], epoch);
          if (sample.image.length !== size) {
            throw new Error(`DataLoader: sample ${indices[i]} (${sample.file}) has ${sample.image.length} values, expected [${this.shape}] = ${size}`);
          }
          if (i === 0 && sample.clean) clean = new Float32Array(indices.length * size);
          if (Boolean(clean) !== Boolean(sample.clean) || (sample.clean && sample.clean.length !== size)) {
            throw new Error(`DataLoader: sample ${indices[i]} (${sample.file}) ${sample.clean ? `has a clean image of ${sample.clean.length} values, expected ${size}` : 'has no clean image, the first of its batch has one'}`);
          }
          x.set(this.options.transform ? this.options.transform(sample.image, this.shape, g) : sample.image, i * size);
          if (clean) clean.set(sample.clean!, i * size);
          y[i] = sample.label;
        }
        this.stats.prepareMs += performance.now() - t;
        if (i === indices.length) this.stats.batches++;
      },
    };
  }
}
