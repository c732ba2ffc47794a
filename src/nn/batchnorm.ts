/**
 * BatchNorm2d with PyTorch's names and state: parameters `weight` (ones) and `bias` (zeros) when
 * affine; buffers `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (a 0-d int32
 * tensor, counted on the GPU by the statistics pass) when tracking running statistics. `forward` follows `this.training`;
 * without running statistics it normalises with the batch's statistics in eval mode too, as PyTorch.
 * `momentum` null averages every batch equally, as PyTorch's (from the last `resetRunningStats`).
 * `withStatistics` lends the module another set of running statistics for a while: a module applied
 * to two kinds of input (PCNN's shared layer4) can keep one set per kind.
 */
import { Module } from './module.js';
import { full, tensor, upload, type Tensor } from '../engine/tensor.js';
import { keep } from '../engine/scope.js';
import { batchNorm2d } from '../kernels/batchnorm/index.js';

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Running mean and unbiased variance, and how many batches went into them while `momentum` is null. */
export interface RunningStatistics {
  mean: Tensor;
  variance: Tensor;
  batches: number;
}

export class BatchNorm2d extends Module {
  readonly eps: number;
  /** Weight of a new batch in the running statistics; null: equal weights (a cumulative average). */
  momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  /** The registered buffers, and the set in use (another one inside `withStatistics`). */
  private readonly own: RunningStatistics | null;
  private active: RunningStatistics | null;

  constructor(
    readonly numFeatures: number,
    { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true }: BatchNorm2dOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) {
      throw new Error(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    this.eps = eps;
    this.momentum = momentum;
    this.weight = this.registerParameter('weight', affine ? full([numFeatures], 1) : null);
    this.bias = this.registerParameter('bias', affine ? full([numFeatures], 0) : null);
    const mean = this.registerBuffer('running_mean', trackRunningStats ? full([numFeatures], 0) : null);
    const variance = this.registerBuffer('running_var', trackRunningStats ? full([numFeatures], 1) : null);
    this.own = this.active = mean && variance ? { mean, variance, batches: 0 } : null;
    this.numBatchesTracked = this.registerBuffer(
      'num_batches_tracked',
      trackRunningStats ? tensor(Int32Array.of(0), []) : null,
    );
  }

  get runningMean(): Tensor | null {
    return this.active?.mean ?? null;
  }

  get runningVar(): Tensor | null {
    return this.active?.variance ?? null;
  }

  /** Whether the registered running statistics are the ones in use (not borrowed by `withStatistics`). */
  get usesOwnStatistics(): boolean {
    return this.own !== null && this.active === this.own;
  }

  /** A new set of running statistics (mean 0, variance 1), for `withStatistics`; the caller disposes it. */
  newStatistics(): RunningStatistics {
    return { mean: keep(full([this.numFeatures], 0)), variance: keep(full([this.numFeatures], 1)), batches: 0 };
  }

  /** Runs `fn` with `statistics` in place of the module's own: read in eval mode, updated in training mode. */
  withStatistics<T>(statistics: RunningStatistics, fn: () => T): T {
    if (!this.own) throw new Error(`BatchNorm2d(${this.numFeatures}): withStatistics needs trackRunningStats`);
    const previous = this.active;
    this.active = statistics;
    try {
      return fn();
    } finally {
      this.active = previous;
    }
  }

  /** Mean 0, variance 1, no batch counted: PyTorch's `reset_running_stats`. */
  resetRunningStats(): void {
    if (!this.own) return;
    upload(this.own.mean, new Float32Array(this.numFeatures));
    upload(this.own.variance, new Float32Array(this.numFeatures).fill(1));
    upload(this.numBatchesTracked!, Int32Array.of(0));
    this.own.batches = 0;
  }

  forward(x: Tensor): Tensor {
    return this.forwardFused(x);
  }

  /** relu(bn(x) + residual) in one pass over the output (either part optional): a ResNet block's tail. */
  forwardFused(x: Tensor, { residual = null, relu = false }: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
    if (x.ndim === 4 && x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm2d(${this.numFeatures}): input [${x.shape}] has ${x.shape[1]} channels, expected ${this.numFeatures}`);
    }
    const statistics = this.active;
    const updates = this.training && statistics !== null;
    return batchNorm2d(x, statistics?.mean ?? null, statistics?.variance ?? null, this.weight, this.bias, {
      training: this.training || !statistics,
      momentum: updates ? (this.momentum ?? 1 / ++statistics.batches) : 0,
      eps: this.eps,
      batchCount: updates && statistics === this.own ? this.numBatchesTracked : null,
      residual,
      relu,
    });
  }
}

/** Every BatchNorm2d in a module tree, in state-dict order. */
export function batchNorms(module: Module): BatchNorm2d[] {
  return [...module.namedModules()].flatMap(([, m]) => (m instanceof BatchNorm2d ? [m] : []));
}
