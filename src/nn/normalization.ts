/**
 * `LayerNorm` (torch.nn.LayerNorm) over the trailing `normalizedShape` dimensions: parameters `weight`
 * (ones) and `bias` (zeros) of shape normalizedShape when `elementwiseAffine` (`bias: false` drops the
 * bias alone, as PyTorch 2.1+), none otherwise; PyTorch's state-dict names.
 */
import { Module } from './module.js';
import { full, type Tensor } from '../engine/tensor.js';
import { layerNorm } from '../kernels/norm/index.js';

export interface LayerNormModuleOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], { eps = 1e-5, elementwiseAffine = true, bias = true }: LayerNormModuleOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (!shape.length || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`LayerNorm: normalizedShape must be a non-negative integer or a non-empty list of them, got [${shape}]`);
    }
    if (!(Number.isFinite(eps) && eps >= 0)) throw new Error(`LayerNorm: eps must be a finite number >= 0, got ${eps}`);
    this.normalizedShape = shape;
    this.eps = eps;
    this.weight = this.registerParameter('weight', elementwiseAffine ? full(shape, 1) : null);
    this.bias = this.registerParameter('bias', elementwiseAffine && bias ? full(shape, 0) : null);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, { eps: this.eps });
  }
}
