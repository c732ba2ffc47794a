/**
 * Learning-rate schedulers with the epoch counting of `torch.optim.lr_scheduler` (PyTorch 1.13):
 * construction records each group's `initialLr` (torch's `initial_lr`) and takes the first `step()`
 * (epoch 0, learning rates unchanged); each later `step()` advances the epoch and writes the new rates
 * into the optimizer's groups. The rates follow torch's recursive (chainable) form, so the float64
 * values are the very numbers torch computes. The optimizer reads `lr` at its next step, into a uniform.
 */
import type { GroupHyper } from './optimizer.js';

/** What a scheduler needs of an optimizer: its groups' learning rates. */
export interface HasParamGroups {
  readonly paramGroups: (GroupHyper & { initialLr?: number })[];
}

export type SchedulerStateDict = Record<string, number | number[]>;

export abstract class LRScheduler {
  /** The epoch of the last `step()`: 0 after construction. */
  lastEpoch = -1;
  /** `step()` calls so far, the constructor's included (torch's `_step_count`). */
  stepCount = 0;
  baseLrs: number[];
  private lastLr: number[] = [];

  constructor(
    readonly optimizer: HasParamGroups,
    protected readonly name: string,
  ) {
    for (const group of optimizer.paramGroups) group.initialLr ??= group.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** The rates for epoch `lastEpoch`, from the groups' current rates (torch's `get_lr`). */
  protected abstract getLr(): number[];

  /** The names of the subclass's own settings, saved in the state dict. */
  protected abstract readonly settings: readonly string[];

  /** Advances one epoch and sets the groups' learning rates. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const rates = this.getLr();
    this.optimizer.paramGroups.forEach((group, i) => (group.lr = rates[i]));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The rates set by the last `step()`. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Plain numbers (JSON-serialisable): the counters, the base and last rates, and the settings. */
  stateDict(): SchedulerStateDict {
    const own = this as unknown as Record<string, number>;
    return {
      ...Object.fromEntries(this.settings.map((k) => [k, own[k]])),
      baseLrs: [...this.baseLrs],
      lastEpoch: this.lastEpoch,
      stepCount: this.stepCount,
      lastLr: [...this.lastLr],
    };
  }

  /** Restores a `stateDict()`; the optimizer's rates are restored by its own `loadStateDict`. */
  loadStateDict(dict: SchedulerStateDict): void {
    const expected = [...this.settings, 'baseLrs', 'lastEpoch', 'stepCount', 'lastLr'].sort();
    const keys = Object.keys(dict ?? {}).sort();
    if (keys.join() !== expected.join()) {
      throw new Error(`${this.name}.loadStateDict: got entries ${keys.join(', ')}; expected ${expected.join(', ')}`);
    }
    const groups = this.optimizer.paramGroups.length;
    for (const k of ['baseLrs', 'lastLr']) {
      const list = dict[k];
      if (!Array.isArray(list) || list.length !== groups) {
        throw new Error(`${this.name}.loadStateDict: '${k}' must list one rate per group (${groups}), got ${JSON.stringify(list)}`);
      }
    }
    const own = this as unknown as Record<string, unknown>;
    for (const k of [...this.settings, 'lastEpoch', 'stepCount']) {
      if (typeof dict[k] !== 'number') throw new Error(`${this.name}.loadStateDict: '${k}' must be a number, got ${JSON.stringify(dict[k])}`);
      own[k] = dict[k];
    }
    this.baseLrs = [...(dict.baseLrs as number[])];
    this.lastLr = [...(dict.lastLr as number[])];
  }

  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/** Multiplies the rates by `gamma` every `stepSize` epochs (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends LRScheduler {
  protected readonly settings = ['stepSize', 'gamma'];
  stepSize: number;
  gamma: number;

  constructor(optimizer: HasParamGroups, { stepSize, gamma = 0.1 }: { stepSize: number; gamma?: number }) {
    super(optimizer, 'StepLR');
    if (!Number.isInteger(stepSize) || stepSize < 1) {
      throw new Error(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    }
    if (typeof gamma !== 'number' || Number.isNaN(gamma)) throw new Error(`StepLR: gamma must be a number, got ${gamma}`);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.step();
  }

  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
}

/**
 * Cosine annealing from the base rate to `etaMin` over `tMax` epochs, then back up and down again
 * (torch.optim.lr_scheduler.CosineAnnealingLR, its recursive form: each rate is derived from the
 * group's current one, so that rates changed by hand are annealed from).
 */
export class CosineAnnealingLR extends LRScheduler {
  protected readonly settings = ['tMax', 'etaMin'];
  tMax: number;
  etaMin: number;

  constructor(optimizer: HasParamGroups, { tMax, etaMin = 0 }: { tMax: number; etaMin?: number }) {
    super(optimizer, 'CosineAnnealingLR');
    if (!Number.isInteger(tMax) || tMax < 1) throw new Error(`CosineAnnealingLR: tMax must be a positive integer, got ${tMax}`);
    if (typeof etaMin !== 'number' || Number.isNaN(etaMin)) {
      throw new Error(`CosineAnnealingLR: etaMin must be a number, got ${etaMin}`);
    }
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.step();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, tMax, etaMin } = this;
    if (t === 0) return this.groupLrs();
    // Python's %, which is never negative: the epoch just past each minimum, where the recursive
    // ratio below would divide by 1 + cos(pi) = 0, steps up by the closed-form increment instead.
    if (floorMod(t - 1 - tMax, 2 * tMax) === 0) {
      return this.groupLrs().map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    const ratio = (1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax));
    return this.groupLrs().map((lr) => ratio * (lr - etaMin) + etaMin);
  }
}

function floorMod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
