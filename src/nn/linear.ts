/** `Linear` (torch.nn.Linear): y = x · weightᵀ + bias, weight [out, in], bias [out]. */
import { Module } from './module.js';
import { linear } from '../kernels/matmul/index.js';
import { rand, type Tensor } from '../engine/tensor.js';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  /**
   * PyTorch's default initialisation, drawn from the seeded default generator: kaiming_uniform_ with
   * a = √5 gives the weight U(−1/√in, 1/√in) (gain √(2/(1+5)) times √(3/in)), and the bias is
   * U(−1/√in, 1/√in) too (bound 0 when in = 0, as in PyTorch).
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    { bias = true } = {},
  ) {
    super();
    for (const [name, value] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`Linear: ${name} must be a non-negative integer, got ${value}`);
    }
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.weight = this.registerParameter('weight', rand([outFeatures, inFeatures], { low: -bound, high: bound }));
    this.bias = this.registerParameter('bias', bias ? rand([outFeatures], { low: -bound, high: bound }) : null);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
