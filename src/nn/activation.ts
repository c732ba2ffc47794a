/** Parameter-free layers, so that `Sequential` can hold them at PyTorch's indices. */
import { Module } from './module.js';
import { gelu, leakyRelu, relu, type GeluOptions } from '../kernels/elementwise/index.js';
import { flatten } from '../kernels/shape/index.js';
import type { Tensor } from '../engine/tensor.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** torch.nn.LeakyReLU: x where x > 0, else negativeSlope * x (default 0.01). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
    if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope)) {
      throw new Error(`LeakyReLU: negativeSlope must be a finite number, got ${typeof negativeSlope === 'string' ? JSON.stringify(negativeSlope) : String(negativeSlope)}`);
    }
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

/** torch.nn.GELU: `approximate` 'none' (exact, the default) or 'tanh'. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor({ approximate = 'none' }: GeluOptions = {}) {
    super();
    if (approximate !== 'none' && approximate !== 'tanh') {
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
    }
    this.approximate = approximate;
  }

  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
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
