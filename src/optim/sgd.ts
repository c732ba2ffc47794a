/**
 * Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum, exactly
 * as `torch.optim.SGD` in PyTorch 1.13 (see shaders/optim/sgd.wgsl for the update). One fused
 * dispatch per parameter tensor; the momentum buffer is made on a parameter's first step.
 */
import { Kernel } from '../engine/kernel.js';
import { dispatch } from '../engine/recorder.js';
import type { Tensor } from '../engine/tensor.js';
import { Optimizer, definedOnly, nonNegative, vec4Workgroups, type ParamsInput } from './optimizer.js';
import source from '../../shaders/optim/sgd.wgsl';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export type SGDHyper = Required<SGDOptions>;

export interface SGDState {
  /** torch's `momentum_buffer`; absent while momentum is 0. */
  momentumBuffer?: Tensor;
}

const kernel = new Kernel('sgd', source);

export class SGD extends Optimizer<SGDHyper, SGDState> {
  protected readonly stateKeys = { tensors: ['momentumBuffer'], numbers: [] };

  constructor(params: ParamsInput<SGDHyper>, options: SGDOptions) {
    super('SGD', params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...definedOnly(options) } as SGDHyper);
  }

  protected checkHyper(h: SGDHyper, where: string): void {
    nonNegative('SGD', where, 'learning rate', h.lr);
    nonNegative('SGD', where, 'momentum', h.momentum);
    nonNegative('SGD', where, 'weight decay', h.weightDecay);
    if (typeof h.dampening !== 'number' || Number.isNaN(h.dampening)) {
      throw new Error(`SGD (${where}): invalid dampening ${h.dampening}; expected a number`);
    }
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new Error(
        `SGD (${where}): Nesterov momentum requires a momentum > 0 and zero dampening, ` +
          `got momentum ${h.momentum}, dampening ${h.dampening}`,
      );
    }
  }

  protected update(param: Tensor, grad: Tensor, h: SGDHyper, state: SGDState = {}): SGDState {
    const hasMomentum = h.momentum !== 0;
    const first = hasMomentum && !state.momentumBuffer;
    if (first) state.momentumBuffer = this.newState(param);
    dispatch(kernel, {
      workgroups: vec4Workgroups(kernel, param.size),
      buffers: { grad, param, momentumBuffer: state.momentumBuffer ?? this.placeholder() },
      uniforms: {
        count: param.size,
        lr: h.lr,
        weightDecay: h.weightDecay,
        momentum: h.momentum,
        gradScale: first ? 1 : 1 - h.dampening,
      },
      constants: { HAS_MOMENTUM: Number(hasMomentum), NESTEROV: Number(h.nesterov) },
    });
    return state;
  }
}
