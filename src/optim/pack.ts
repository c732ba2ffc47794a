/**
 * The packed parameters of a multi-tensor optimizer (SGD, Adam): the constructor moves all parameters
 * into one buffer (`packTensors`: each stays the same tensor object, now a range of that buffer), and a
 * step copies the gradients into a buffer of the same layout, keeps each state tensor (momentum, Adam's
 * moments) as the parameter's range of a further buffer of that layout, and runs one dispatch per
 * parameter group over a segment table (one entry per workgroup: which tensor range it updates, and
 * whatever differs per tensor). The state dict still hands out one tensor per parameter (the views).
 */
import { recorder } from '../engine/recorder.js';
import { empty, packTensors, packedView, tensor, type Tensor } from '../engine/tensor.js';
import { keep } from '../engine/scope.js';

export class ParameterPack {
  private grads: Tensor | null = null;
  private readonly stateBuffers = new Map<string, Tensor>();
  /** Per group, the segment table of the last step and its entries (uploaded again when they change). */
  private readonly tables = new Map<number, { entries: Uint32Array; table: Tensor }>();

  private constructor(
    readonly params: Tensor,
    private readonly offsets: Map<Tensor, number>,
    private readonly label: string,
  ) {}

  /** Packs `params` (all of the optimizer's, in order); null where one cannot move (it shares storage). */
  static of(params: Tensor[], label: string): ParameterPack | null {
    if (!params.every((p) => p.relocatable)) return null;
    const { base, offsets } = packTensors(params, `${label} parameters`);
    return new ParameterPack(keep(base), new Map(params.map((p, i) => [p, offsets[i]])), label);
  }

  /** Whether every one of `params` is still where this pack put it (another optimizer may have moved it). */
  holds(params: Iterable<Tensor>): boolean {
    for (const p of params) {
      const offset = this.offsets.get(p);
      if (offset === undefined || p.isDisposed || p.buffer !== this.params.buffer || p.byteOffset !== offset * 4) return false;
    }
    return true;
  }

  /** The parameter's offset in elements. */
  offset(param: Tensor): number {
    return this.offsets.get(param)!;
  }

  /** The packed gradients, made on first use (ranges of parameters without a gradient are stale). */
  get gradients(): Tensor {
    this.grads ??= keep(empty([this.params.size], 'float32', `${this.label} gradients`));
    return this.grads;
  }

  /** Records the copy of `grad` into the parameter's range of the packed gradients. */
  copyGradient(param: Tensor, grad: Tensor): void {
    recorder.copy(grad.buffer, grad.byteOffset, this.gradients.buffer, this.offset(param) * 4, param.size * 4);
  }

  /** State buffer `name` (uninitialised: kernels read a range as 0 on its parameter's first step). */
  state(name: string): Tensor {
    let buffer = this.stateBuffers.get(name);
    if (!buffer) {
      buffer = keep(empty([this.params.size], 'float32', `${this.label} ${name}`));
      this.stateBuffers.set(name, buffer);
    }
    return buffer;
  }

  /** The parameter's state tensor `name` as its range of that buffer; one it had elsewhere (loaded by
   *  loadStateDict, or made by a per-tensor step) is copied in and freed. */
  stateView(name: string, param: Tensor, current: Tensor | undefined): Tensor {
    const buffer = this.state(name);
    const offset = this.offset(param);
    if (current && !current.isDisposed && current.buffer === buffer.buffer && current.byteOffset === offset * 4) return current;
    const view = keep(packedView(buffer, offset, param.shape));
    if (current) {
      recorder.copy(current.buffer, current.byteOffset, buffer.buffer, offset * 4, param.size * 4);
      current.dispose();
    }
    return view;
  }

  /** Group g's segment table on the GPU, uploaded again only when its entries change. */
  segmentTable(g: number, entries: Uint32Array): Tensor {
    const cached = this.tables.get(g);
    if (cached && cached.entries.length === entries.length && cached.entries.every((v, i) => v === entries[i])) return cached.table;
    cached?.table.dispose();
    const table = keep(tensor(new Int32Array(entries.buffer), [entries.length]));
    this.tables.set(g, { entries, table });
    return table;
  }

  dispose(): void {
    for (const t of [this.params, this.grads, ...this.stateBuffers.values(), ...[...this.tables.values()].map((e) => e.table)]) t?.dispose();
    this.stateBuffers.clear();
    this.tables.clear();
    this.grads = null;
  }
}

/** The bits of `v` rounded to float32, for a u32 segment table. */
export const floatBits = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0];
