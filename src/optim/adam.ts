/**
 * Adam and AdamW, exactly as `torch.optim.Adam` / `torch.optim.AdamW` in PyTorch 1.13: bias-corrected
 * moments with a step count per parameter, optional AMSGrad; Adam adds weight decay to the gradient
 * (L2), AdamW decays the parameter directly (decoupled). Both run the same fused kernel
 * (shaders/optim/adam.wgsl), one dispatch per parameter tensor; the bias corrections are computed here
 * in float64, as torch computes them in Python, and passed as uniforms.
 */
import { Kernel } from '../engine/kernel.js';
import { dispatch } from '../engine/recorder.js';
import type { Tensor } from '../engine/tensor.js';
import { Optimizer, definedOnly, nonNegative, vec4Workgroups, type ParamsInput } from './optimizer.js';
import source from '../../shaders/optim/adam.wgsl';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

export type AdamHyper = Required<AdamOptions>;

export interface AdamState {
  /** Updates this parameter has taken (torch's `step`). */
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  /** Present when amsgrad is on. */
  maxExpAvgSq?: Tensor;
}

const kernel = new Kernel('adam', source);

abstract class AdamFamily extends Optimizer<AdamHyper, AdamState> {
  protected readonly stateKeys = { tensors: ['expAvg', 'expAvgSq', 'maxExpAvgSq'], numbers: ['step'] };

  constructor(
    name: string,
    params: ParamsInput<AdamHyper>,
    options: AdamOptions,
    defaultWeightDecay: number,
    private readonly decoupled: boolean,
  ) {
    const defaults: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: defaultWeightDecay, amsgrad: false };
    super(name, params, { ...defaults, ...definedOnly(options) });
  }

  protected checkHyper(h: AdamHyper, where: string): void {
    nonNegative(this.name, where, 'learning rate', h.lr);
    nonNegative(this.name, where, 'epsilon', h.eps);
    nonNegative(this.name, where, 'weight decay', h.weightDecay);
    if (!Array.isArray(h.betas) || h.betas.length !== 2) {
      throw new Error(`${this.name} (${where}): betas must be [beta1, beta2], got ${JSON.stringify(h.betas)}`);
    }
    h.betas.forEach((beta, i) => {
      if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
        throw new Error(`${this.name} (${where}): invalid beta parameter at index ${i}: ${beta}; expected 0 <= beta < 1`);
      }
    });
  }

  protected update(param: Tensor, grad: Tensor, h: AdamHyper, state: AdamState | undefined): AdamState {
    state ??= { step: 0, expAvg: this.newState(param), expAvgSq: this.newState(param) };
    if (h.amsgrad) state.maxExpAvgSq ??= this.newState(param);
    state.step += 1;
    const [beta1, beta2] = h.betas;
    dispatch(kernel, {
      workgroups: vec4Workgroups(kernel, param.size),
      buffers: {
        grad,
        param,
        expAvg: state.expAvg,
        expAvgSq: state.expAvgSq,
        maxExpAvgSq: h.amsgrad ? state.maxExpAvgSq! : this.placeholder(),
      },
      uniforms: {
        count: param.size,
        weightDecay: this.decoupled ? 0 : h.weightDecay,
        paramScale: this.decoupled ? 1 - h.lr * h.weightDecay : 1,
        beta1,
        oneMinusBeta1: 1 - beta1,
        beta2,
        oneMinusBeta2: 1 - beta2,
        stepSize: h.lr / (1 - beta1 ** state.step),
        biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** state.step),
        eps: h.eps,
      },
      constants: { AMSGRAD: Number(h.amsgrad) },
    });
    return state;
  }
}

/** `torch.optim.Adam`: weight decay is added to the gradient (L2 regularisation). */
export class Adam extends AdamFamily {
  constructor(params: ParamsInput<AdamHyper>, options: AdamOptions = {}) {
    super('Adam', params, options, 0, false);
  }
}

/** `torch.optim.AdamW`: decoupled weight decay (default 1e-2), applied to the parameter. */
export class AdamW extends AdamFamily {
  constructor(params: ParamsInput<AdamHyper>, options: AdamOptions = {}) {
    super('AdamW', params, options, 1e-2, true);
  }
}
