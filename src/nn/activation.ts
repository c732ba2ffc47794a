/** Parameter-free layers, so that `Sequential` can hold them at PyTorch's indices. */
import { Module } from './module.js';
import { gelu, leakyRelu, relu, type GeluOptions } from '../kernels/elementwise/index.js';
import { flatten } from '../kernels/shape/index.js';
import { dropout } from '../kernels/elementwise/dropout.js';
import type { Generator } from '../engine/random.js';
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

/** torch.nn.Dropout(p = 0.5): in training mode each element zeroed with probability p, the others
 *  scaled by 1 / (1 - p); in eval mode the identity. The mask's seed comes from `generator` (default
 *  the default generator), one per forward. */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    readonly generator?: Generator,
  ) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a probability in [0, 1], got ${String(p)}`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, training: this.training, ...(this.generator ? { generator: this.generator } : {}) });
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
