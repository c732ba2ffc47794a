/**
 * BatchNorm2d with PyTorch's names and state: parameters `weight` (ones) and `bias` (zeros) when
 * affine; buffers `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (a 0-d int32
 * tensor, counted on the GPU by the statistics pass) when tracking running statistics. `forward` follows `this.training`;
 * without running statistics it normalises with the batch's statistics in eval mode too, as PyTorch.
 */
import { Module } from './module.js';
import { full, tensor, type Tensor } from '../tensor.js';
import { batchNorm2d } from '../../kernels/batchnorm/index.js';

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

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
    this.runningMean = this.registerBuffer('running_mean', trackRunningStats ? full([numFeatures], 0) : null);
    this.runningVar = this.registerBuffer('running_var', trackRunningStats ? full([numFeatures], 1) : null);
    this.numBatchesTracked = this.registerBuffer(
      'num_batches_tracked',
      trackRunningStats ? tensor(Int32Array.of(0), []) : null,
    );
  }

  forward(x: Tensor): Tensor {
    return this.forwardFused(x);
  }

  /** relu(bn(x) + residual) in one pass over the output (either part optional): a ResNet block's tail. */
  forwardFused(x: Tensor, { residual = null, relu = false }: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
    if (x.ndim === 4 && x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm2d(${this.numFeatures}): input [${x.shape}] has ${x.shape[1]} channels, expected ${this.numFeatures}`);
    }
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training || !this.runningMean,
      momentum: this.momentum,
      eps: this.eps,
      batchCount: this.training ? this.numBatchesTracked : null,
      residual,
      relu,
    });
  }
}
