/**
 * Adam and AdamW, exactly as `torch.optim.Adam` / `torch.optim.AdamW` in PyTorch 1.13: bias-corrected
 * moments with a step count per parameter, optional AMSGrad; Adam adds weight decay to the gradient
 * (L2), AdamW decays the parameter directly (decoupled). The bias corrections are computed here in
 * float64, as torch computes them in Python, and passed rounded to f32.
 *
 * Multi-tensor step, as SGD's (see pack.ts): the parameters are packed into one buffer at construction,
 * the moments are ranges of buffers of the same layout, and a step is one adam_multi dispatch per group
 * over a segment table carrying each tensor's step-dependent scalars (stepSize, biasCorrection2Sqrt) and
 * first-step flags; the same arithmetic as the per-tensor kernel (adam.wgsl), bit for bit. Where the
 * parameters cannot be packed, or were packed again by another optimizer, a step is one adam dispatch
 * per parameter tensor. The state dict is the same either way (one tensor per parameter and entry).
 */
import { Kernel } from '../engine/kernel.js';
import { dispatch, workgroups1d } from '../engine/recorder.js';
import type { Tensor } from '../engine/tensor.js';
import { Optimizer, definedOnly, nonNegative, vec4Workgroups, type ParamsInput } from './optimizer.js';
import { ParameterPack, floatBits } from './pack.js';
import source from '../../shaders/optim/adam.wgsl';
import multiSource from '../../shaders/optim/adam_multi.wgsl';

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
const multiKernel = new Kernel('adam_multi', multiSource);
/** Elements of one tensor a workgroup of adam_multi updates: a vec4 per invocation. */
const ELEMENTS_PER_ENTRY = 4 * multiKernel.workgroupInvocations;
/** u32 words per segment-table entry (two vec4s). */
const ENTRY_WORDS = 8;

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
    this.pack = ParameterPack.of(this.paramGroups.flatMap((g) => g.params), name);
  }

  private pack: ParameterPack | null;

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
      const entries: number[] = [];
      for (const param of h.params) {
        const grad = this.gradOf(param);
        if (!grad) continue;
        pack.copyGradient(param, grad);
        const old = this.state.get(param);
        const first = !old;
        const maxFirst = h.amsgrad && !old?.maxExpAvgSq;
        const state: AdamState = {
          step: (old?.step ?? 0) + 1,
          expAvg: pack.stateView('exp_avg', param, old?.expAvg),
          expAvgSq: pack.stateView('exp_avg_sq', param, old?.expAvgSq),
        };
        if (h.amsgrad || old?.maxExpAvgSq) state.maxExpAvgSq = pack.stateView('max_exp_avg_sq', param, old?.maxExpAvgSq);
        this.state.set(param, state);
        const { stepSize, biasCorrection2Sqrt } = this.corrections(h, state.step);
        const [stepBits, correctionBits] = [floatBits(stepSize), floatBits(biasCorrection2Sqrt)];
        const offset = pack.offset(param);
        for (let start = 0; start < param.size; start += ELEMENTS_PER_ENTRY) {
          entries.push((offset + start) / 4, param.size - start, stepBits, correctionBits, Number(first), Number(maxFirst), 0, 0);
        }
      }
      if (!entries.length) return;
      const [beta1, beta2] = h.betas;
      dispatch(multiKernel, {
        workgroups: workgroups1d(entries.length / ENTRY_WORDS),
        buffers: {
          segments: pack.segmentTable(g, Uint32Array.from(entries)),
          grad: pack.gradients,
          param: pack.params,
          expAvg: pack.state('exp_avg'),
          expAvgSq: pack.state('exp_avg_sq'),
          maxExpAvgSq: h.amsgrad ? pack.state('max_exp_avg_sq') : this.placeholder(),
        },
        uniforms: {
          entryCount: entries.length / ENTRY_WORDS,
          ...this.groupScalars(h),
          beta1,
          oneMinusBeta1: 1 - beta1,
          beta2,
          oneMinusBeta2: 1 - beta2,
          eps: h.eps,
        },
        constants: { AMSGRAD: Number(h.amsgrad) },
      });
    });
  }

  override dispose(): void {
    super.dispose();
    this.pack?.dispose();
    this.pack = null;
  }

  /** The step-dependent scalars (float64, as torch's Python ones). */
  private corrections(h: AdamHyper, step: number): { stepSize: number; biasCorrection2Sqrt: number } {
    const [beta1, beta2] = h.betas;
    return { stepSize: h.lr / (1 - beta1 ** step), biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** step) };
  }

  /** Adam's L2 term or AdamW's decoupled decay. */
  private groupScalars(h: AdamHyper): { weightDecay: number; paramScale: number } {
    return { weightDecay: this.decoupled ? 0 : h.weightDecay, paramScale: this.decoupled ? 1 - h.lr * h.weightDecay : 1 };
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
        ...this.groupScalars(h),
        beta1,
        oneMinusBeta1: 1 - beta1,
        beta2,
        oneMinusBeta2: 1 - beta2,
        ...this.corrections(h, state.step),
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
