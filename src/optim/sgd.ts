/**
 * Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum, exactly
 * as `torch.optim.SGD` in PyTorch 1.13 (see shaders/optim/sgd.wgsl for the update); the momentum
 * buffer is made on a parameter's first step.
 *
 * Multi-tensor step: the constructor packs the parameters into one buffer (`packTensors`: each
 * parameter stays the same tensor object, now a range of that buffer), and a step copies the gradients
 * into a buffer of the same layout and runs one dispatch per parameter group (sgd_multi.wgsl, the same
 * arithmetic element for element) over a table of the tensors that have a gradient; the momentum
 * buffers are ranges of a third such buffer (the state dict still hands out one tensor per parameter).
 * Where the parameters cannot be packed (one shares its storage with a view), or were moved since (another
 * optimizer packed them), a step is one dispatch per parameter tensor (sgd.wgsl), with the same results.
 */
import { Kernel } from '../engine/kernel.js';
import { dispatch, workgroups1d } from '../engine/recorder.js';
import type { Tensor } from '../engine/tensor.js';
import { ParameterPack, floatBits } from './pack.js';
import { Optimizer, definedOnly, nonNegative, vec4Workgroups, type ParamsInput } from './optimizer.js';
import source from '../../shaders/optim/sgd.wgsl';
import multiSource from '../../shaders/optim/sgd_multi.wgsl';

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
const multiKernel = new Kernel('sgd_multi', multiSource);
/** Elements of one tensor a workgroup of sgd_multi updates: a vec4 per invocation. */
const ELEMENTS_PER_ENTRY = 4 * multiKernel.workgroupInvocations;

export class SGD extends Optimizer<SGDHyper, SGDState> {
  protected readonly stateKeys = { tensors: ['momentumBuffer'], numbers: [] };
  private pack: ParameterPack | null;

  constructor(params: ParamsInput<SGDHyper>, options: SGDOptions) {
    super('SGD', params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...definedOnly(options) } as SGDHyper);
    this.pack = ParameterPack.of(this.paramGroups.flatMap((g) => g.params), 'SGD');
  }

  /** Whether a step is the multi-tensor one: the parameters are still where this optimizer packed them. */
  get packed(): boolean {
    return this.pack?.holds(this.paramGroups.flatMap((g) => g.params)) ?? false;
  }

  override step(): void {
    if (!this.packed) {
      super.step();
      return;
    }
    const pack = this.pack!;
    this.paramGroups.forEach((h, g) => {
      const hasMomentum = h.momentum !== 0;
      const entries: number[] = [];
      for (const param of h.params) {
        const grad = this.gradOf(param);
        if (!grad) continue;
        const offset = pack.offset(param);
        pack.copyGradient(param, grad);
        const state = this.state.get(param) ?? {};
        const first = hasMomentum && !state.momentumBuffer;
        // The packed momenta are uninitialised: a range is first read on its parameter's first step, as 0.
        if (hasMomentum) state.momentumBuffer = pack.stateView('momentum buffers', param, state.momentumBuffer);
        this.state.set(param, state);
        const gradScale = floatBits(first ? 1 : 1 - h.dampening);
        for (let start = 0; start < param.size; start += ELEMENTS_PER_ENTRY) {
          entries.push((offset + start) / 4, param.size - start, gradScale, Number(first));
        }
      }
      if (!entries.length) return;
      dispatch(multiKernel, {
        workgroups: workgroups1d(entries.length / 4),
        buffers: {
          segments: pack.segmentTable(g, Uint32Array.from(entries)),
          grad: pack.gradients,
          param: pack.params,
          momentumBuffer: hasMomentum ? pack.state('momentum buffers') : this.placeholder(),
        },
        uniforms: { entryCount: entries.length / 4, lr: h.lr, weightDecay: h.weightDecay, momentum: h.momentum },
        constants: { HAS_MOMENTUM: Number(hasMomentum), NESTEROV: Number(h.nesterov) },
      });
    });
  }

  override dispose(): void {
    super.dispose();
    this.pack?.dispose();
    this.pack = null;
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
