/** `Conv2d`: torch.nn.Conv2d with PyTorch's parameter names and default initialisation. */
import { Module } from './module.js';
import { rand, type Tensor } from '../engine/tensor.js';
import { defaultGenerator, type Generator } from '../engine/random.js';
import { conv2d, type Pair } from '../kernels/conv2d/index.js';

export interface Conv2dModuleOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  /** Source of the initial values (default: the seeded default generator). */
  generator?: Generator;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, generator = defaultGenerator }: Conv2dModuleOptions = {},
  ) {
    super();
    const [kH, kW] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const counts = [inChannels, outChannels, kH, kW, groups];
    if (counts.some((v) => !Number.isInteger(v) || v < 1) || inChannels % groups || outChannels % groups) {
      throw new Error(
        `Conv2d: inChannels ${inChannels}, outChannels ${outChannels}, kernelSize ${JSON.stringify(kernelSize)} ` +
          `and groups ${groups} must be positive integers with groups dividing both channel counts`,
      );
    }
    this.stride = stride;
    this.padding = padding;
    this.dilation = dilation;
    this.groups = groups;
    // PyTorch's reset_parameters: kaiming_uniform_(a=√5) is U(±1/√fan_in), and the bias uses the same bound.
    const fanIn = (inChannels / groups) * kH * kW;
    const bound = 1 / Math.sqrt(fanIn);
    const init = (shape: number[]) => rand(shape, { low: -bound, high: bound, generator });
    this.weight = this.registerParameter('weight', init([outChannels, inChannels / groups, kH, kW]));
    this.bias = this.registerParameter('bias', bias ? init([outChannels]) : null);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
