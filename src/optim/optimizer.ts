/**
 * The optimizer base, after `torch.optim.Optimizer` (1.13): parameter groups with their own
 * hyper-parameters (`lr` is what schedulers write), per-parameter state made on the parameter's first
 * step and kept out of tidy scopes, `zeroGrad` (set to none), and state dicts that resume exactly.
 *
 * State dict layout (`OptimizerStateDict`), as torch's with camelCase names:
 * - `state[i]`: the state of the i-th parameter counted over all groups in order (only parameters that
 *   have taken a step): named tensors (`momentumBuffer`, `expAvg`, ...) and numbers (`step`).
 * - `paramGroups[g]`: the hyper-parameters of group g, and `params`, the indices of its parameters.
 * `stateDict()` hands out the live state tensors (as `Module.stateDict()` does); `loadStateDict` copies.
 * For a checkpoint, `splitOptimizerState` turns the dict into tensors named `state.<i>.<name>` (for a
 * safetensors file) and a JSON-serialisable rest (the sidecar); `joinOptimizerState` inverts it, and
 * `loadStateDict` accepts the host arrays read back from the file in place of tensors.
 */
import { Tensor, empty, tensor, zeros } from '../engine/tensor.js';
import { keep } from '../engine/scope.js';
import { workgroups1d } from '../engine/recorder.js';
import type { Kernel } from '../engine/kernel.js';
import { expectFloat32 } from '../kernels/checks.js';
import type { StateValue } from '../nn/module.js';

/** Hyper-parameters every group has. */
export interface GroupHyper {
  lr: number;
}

/** A parameter group: its tensors and hyper-parameters. `initialLr` is set by the first scheduler
 *  attached to the optimizer (torch's `initial_lr`) and saved with the state. */
export type ParamGroup<H extends GroupHyper> = H & { params: Tensor[]; initialLr?: number };

/** What constructors take: a list of parameters, or groups overriding some of the defaults. */
export type ParamsInput<H extends GroupHyper> = Tensor[] | ({ params: Tensor[] } & Partial<H>)[];

export interface OptimizerStateDict<H extends GroupHyper = GroupHyper> {
  state: Record<number, Record<string, StateValue | number>>;
  paramGroups: (H & { params: number[]; initialLr?: number })[];
}

/** The host (JSON) part of an optimizer state dict: everything but the tensors. */
export interface OptimizerStateMeta<H extends GroupHyper = GroupHyper> {
  state: Record<number, Record<string, number>>;
  paramGroups: OptimizerStateDict<H>['paramGroups'];
}

/** Names of the per-parameter state entries an optimizer keeps. */
export interface StateKeys {
  tensors: readonly string[];
  numbers: readonly string[];
}

/** Workgroups for an optim kernel whose invocations take one vec4 each of `count` elements. */
export function vec4Workgroups(kernel: Kernel, count: number): [number, number, number] {
  return workgroups1d(Math.ceil(count / (4 * kernel.workgroupInvocations)));
}

/** The options without their undefined entries (so that they do not hide the defaults). */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Throws unless `value` is a number >= 0 (NaN fails). */
export function nonNegative(op: string, where: string, what: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new Error(`${op} (${where}): invalid ${what} ${value}; expected a number >= 0`);
  }
}

export abstract class Optimizer<H extends GroupHyper, S extends object> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Tensor, S>();
  private placeholderTensor: Tensor | null = null;

  constructor(
    readonly name: string,
    params: ParamsInput<H>,
    defaults: H,
  ) {
    if (!Array.isArray(params) || params.length === 0) {
      throw new Error(`${name}: got an empty parameter list; expected tensors or parameter groups`);
    }
    const groups = params.every((p) => p instanceof Tensor)
      ? [{ params: params as Tensor[] }]
      : (params as ({ params: Tensor[] } & Partial<H>)[]);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((input, g) => {
      if (!input || !Array.isArray(input.params)) {
        throw new Error(`${name}: parameter group ${g} has no 'params' list (mixing tensors and groups is not allowed)`);
      }
      const { params: list, ...overrides } = input;
      const group = { ...structuredClone(defaults), ...structuredClone(definedOnly(overrides)), params: [...list] } as ParamGroup<H>;
      for (const [i, p] of group.params.entries()) {
        expectFloat32(name, `parameter ${i} of group ${g}`, p);
        if (p.node) throw new Error(`${name}: parameter ${i} of group ${g} (${p}) is not a leaf; can't optimize it`);
        if (seen.has(p)) throw new Error(`${name}: parameter ${i} of group ${g} (${p}) appears more than once`);
        seen.add(p);
      }
      this.checkHyper(group, `group ${g}`);
      return group;
    });
  }

  /** Throws, naming the optimizer and `where`, when a hyper-parameter is out of range. */
  protected abstract checkHyper(hyper: H, where: string): void;

  /** Records the update of one parameter; returns its state (made on its first step). */
  protected abstract update(param: Tensor, grad: Tensor, group: H, state: S | undefined): S;

  protected abstract readonly stateKeys: StateKeys;

  /** One update of every parameter that has a gradient (recorded on the GPU; nothing waits). */
  step(): void {
    for (const group of this.paramGroups) {
      for (const param of group.params) {
        const grad = this.gradOf(param);
        if (!grad) continue;
        this.state.set(param, this.update(param, grad, group, this.state.get(param)));
      }
    }
  }

  /** The parameter's gradient (null when it has none), checked to be float32 of the parameter's shape. */
  protected gradOf(param: Tensor): Tensor | null {
    const grad = param.grad;
    if (!grad) return null;
    expectFloat32(`${this.name}.step`, `the gradient of a parameter of shape [${param.shape}]`, grad);
    if (grad.shape.join() !== param.shape.join()) {
      throw new Error(`${this.name}.step: the gradient of a parameter of shape [${param.shape}] has shape [${grad.shape}]`);
    }
    return grad;
  }

  /** Frees every parameter's gradient and sets it to null (torch's `set_to_none`). */
  zeroGrad(): void {
    for (const group of this.paramGroups) {
      for (const param of group.params) {
        param.grad?.dispose();
        param.grad = null;
      }
    }
  }

  /** The state (live tensors, not copies) and hyper-parameters; see the layout at the top of the file. */
  stateDict(): OptimizerStateDict<H> {
    const index = new Map<Tensor, number>();
    for (const p of this.paramGroups.flatMap((g) => g.params)) index.set(p, index.size);
    const paramGroups = this.paramGroups.map(({ params, ...hyper }) => ({
      ...(structuredClone(hyper) as H & { initialLr?: number }),
      params: params.map((p) => index.get(p)!),
    }));
    const state: OptimizerStateDict<H>['state'] = {};
    for (const [param, entries] of this.state) state[index.get(param)!] = { ...(entries as Record<string, Tensor | number>) };
    return { state, paramGroups };
  }

  /** Replaces the state and hyper-parameters with copies of those in `dict` (tensors or host arrays). */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const where = `${this.name}.loadStateDict`;
    if (!dict || !Array.isArray(dict.paramGroups) || typeof dict.state !== 'object') {
      throw new Error(`${where}: expected { state, paramGroups }, got ${JSON.stringify(dict)?.slice(0, 80)}`);
    }
    const savedSizes = dict.paramGroups.map((g) => g.params?.length);
    const ownSizes = this.paramGroups.map((g) => g.params.length);
    if (savedSizes.join() !== ownSizes.join()) {
      throw new Error(`${where}: saved groups hold [${savedSizes}] parameters, this optimizer's [${ownSizes}]`);
    }
    const flat = this.paramGroups.flatMap((g) => g.params);
    const hypers = dict.paramGroups.map(({ params: _indices, ...hyper }, g) => {
      const own = this.paramGroups[g];
      const unknown = Object.keys(hyper).filter((k) => !(k in own) && k !== 'initialLr');
      if (unknown.length) throw new Error(`${where}: saved group ${g} has unknown hyper-parameter(s) ${unknown.join(', ')}`);
      this.checkHyper({ ...own, ...structuredClone(hyper) }, `saved group ${g}`);
      return hyper;
    });
    const loaded = new Map<Tensor, S>();
    try {
      for (const [key, entries] of Object.entries(dict.state)) {
        const param = flat[Number(key)];
        if (!param) throw new Error(`${where}: state for parameter ${key}, but there are ${flat.length} parameters`);
        loaded.set(param, this.loadEntries(param, entries, `${where}: state ${key}`));
      }
    } catch (error) {
      for (const entries of loaded.values()) disposeEntries(entries);
      throw error;
    }
    for (const entries of this.state.values()) disposeEntries(entries);
    this.state.clear();
    for (const [param, entries] of loaded) this.state.set(param, entries);
    hypers.forEach((hyper, g) => Object.assign(this.paramGroups[g], structuredClone(hyper)));
  }

  /** Frees the state tensors (the parameters and their gradients belong to the caller). */
  dispose(): void {
    for (const entries of this.state.values()) disposeEntries(entries);
    this.state.clear();
    this.placeholderTensor?.dispose();
    this.placeholderTensor = null;
  }

  /** A state tensor of the parameter's shape, zeroed, owned by this optimizer. */
  protected newState(param: Tensor): Tensor {
    return keep(zeros(param.shape));
  }

  /** Bound where a kernel's optional state buffer is switched off (WebGPU needs every binding). */
  protected placeholder(): Tensor {
    this.placeholderTensor ??= keep(empty([4], 'float32', `${this.name} placeholder`));
    return this.placeholderTensor;
  }

  private loadEntries(param: Tensor, entries: Record<string, StateValue | number>, where: string): S {
    const out: Record<string, Tensor | number> = {};
    try {
      for (const [name, value] of Object.entries(entries)) {
        if (this.stateKeys.numbers.includes(name)) {
          if (typeof value !== 'number') throw new Error(`${where}: '${name}' must be a number, got ${typeof value}`);
          out[name] = value;
        } else if (this.stateKeys.tensors.includes(name)) {
          if (typeof value !== 'object' || value.shape.join() !== param.shape.join()) {
            throw new Error(
              `${where}: '${name}' has shape [${typeof value === 'object' ? value.shape : value}], ` +
                `the parameter [${param.shape}]`,
            );
          }
          out[name] = keep(value instanceof Tensor ? value.clone() : tensor(value.data, value.shape));
        } else {
          const known = [...this.stateKeys.tensors, ...this.stateKeys.numbers].join(', ');
          throw new Error(`${where}: unknown entry '${name}' (${this.name} keeps ${known})`);
        }
      }
    } catch (error) {
      disposeEntries(out);
      throw error;
    }
    return out as S;
  }
}

function disposeEntries(entries: object): void {
  for (const value of Object.values(entries)) if (value instanceof Tensor) value.dispose();
}

/** Splits a state dict for a checkpoint: tensors named `state.<index>.<name>` and the JSON rest. */
export function splitOptimizerState<H extends GroupHyper>(
  dict: OptimizerStateDict<H>,
): { tensors: Record<string, StateValue>; meta: OptimizerStateMeta<H> } {
  const tensors: Record<string, StateValue> = {};
  const state: OptimizerStateMeta<H>['state'] = {};
  for (const [index, entries] of Object.entries(dict.state)) {
    state[Number(index)] = {};
    for (const [name, value] of Object.entries(entries)) {
      if (typeof value === 'number') state[Number(index)][name] = value;
      else tensors[`state.${index}.${name}`] = value;
    }
  }
  return { tensors, meta: { state, paramGroups: structuredClone(dict.paramGroups) } };
}

/** Inverse of `splitOptimizerState`. */
export function joinOptimizerState<H extends GroupHyper>(
  tensors: Record<string, StateValue>,
  meta: OptimizerStateMeta<H>,
): OptimizerStateDict<H> {
  const state: OptimizerStateDict<H>['state'] = {};
  for (const [index, numbers] of Object.entries(meta.state)) state[Number(index)] = { ...numbers };
  for (const [key, value] of Object.entries(tensors)) {
    const match = /^state\.(\d+)\.(\w+)$/.exec(key);
    if (!match) throw new Error(`joinOptimizerState: tensor name '${key}' is not state.<index>.<name>`);
    (state[Number(match[1])] ??= {})[match[2]] = value;
  }
  return { state, paramGroups: structuredClone(meta.paramGroups) };
}
