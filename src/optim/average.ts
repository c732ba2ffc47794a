/**
 * Stochastic weight averaging (Izmailov et al., 2018): an equal-weight running average of parameters
 * taken at chosen points of training (once per epoch, say), as torch.optim.swa_utils.AveragedModel by
 * default. Parameters only: BatchNorm running statistics belong to the weights that made them and must
 * be re-estimated for the average (PyTorch's `update_bn`; ours is fer/recalibrate.ts).
 */
import { recorder } from '../engine/recorder.js';
import { keep, tidy } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import { add, mul, sub } from '../kernels/elementwise/index.js';
import type { Tensor } from '../engine/tensor.js';
import { loadTensors, type StateDict } from '../nn/module.js';

export class WeightAverage {
  /** Snapshots averaged so far. */
  count = 0;
  private readonly params: [string, Tensor][] = [];
  private readonly averages: Map<string, Tensor>;

  /** `params`: named parameters (a module's `namedParameters()`); a tensor listed twice is averaged once. */
  constructor(params: readonly [string, Tensor][]) {
    const seen = new Set<Tensor>();
    for (const [name, t] of params) {
      if (!seen.has(t)) this.params.push([name, t]);
      seen.add(t);
    }
    this.averages = new Map(this.params.map(([name, t]) => [name, keep(t.detach().clone())]));
  }

  /** Adds the parameters' current values to the average. */
  update(): void {
    const weight = 1 / ++this.count;
    for (const [name, param] of this.params) {
      const average = this.averages.get(name)!;
      if (weight === 1) {
        recorder.copy(param.buffer, param.byteOffset, average.buffer, 0, average.size * 4); // the first snapshot, exactly
        continue;
      }
      const next = noGrad(() => tidy(() => add(average, mul(sub(param.detach(), average), weight))));
      recorder.copy(next.buffer, 0, average.buffer, 0, average.size * 4);
      next.dispose();
    }
  }

  /** Writes the average into the parameters. */
  copyToParameters(): void {
    if (this.count === 0) throw new Error('WeightAverage: no snapshot has been averaged yet');
    for (const [name, param] of this.params) recorder.copy(this.averages.get(name)!.buffer, 0, param.buffer, param.byteOffset, param.size * 4);
  }

  /** The averages by parameter name (live tensors) and the count, for checkpoints. */
  stateDict(): { tensors: Record<string, Tensor>; count: number } {
    return { tensors: Object.fromEntries(this.averages), count: this.count };
  }

  loadStateDict({ tensors, count }: { tensors: StateDict; count: number }): void {
    if (!Number.isInteger(count) || count < 0) throw new Error(`WeightAverage.loadStateDict: count must be an integer >= 0, got ${count}`);
    loadTensors(Object.fromEntries(this.averages), tensors, { owner: 'WeightAverage' });
    this.count = count;
  }

  dispose(): void {
    for (const t of this.averages.values()) t.dispose();
  }
}
