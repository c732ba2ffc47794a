/** Parameter-free layers, so that `Sequential` can hold them at PyTorch's indices. */
import { Module } from './module.js';
import { relu } from '../kernels/elementwise/index.js';
import { flatten } from '../kernels/shape/index.js';
import type { Tensor } from '../engine/tensor.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
