/** Pooling layers: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d (no parameters). */
import { Module } from './module.js';
import type { Tensor } from '../engine/tensor.js';
import {
  adaptiveAvgPool2d,
  avgPool2d,
  maxPool2d,
  type AvgPool2dOptions,
  type IntOrPair,
  type MaxPool2dOptions,
} from '../kernels/pool/index.js';

export class MaxPool2d extends Module {
  constructor(readonly options: MaxPool2dOptions) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly options: AvgPool2dOptions) {
    super();
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: IntOrPair) {
    super();
  }

  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}
