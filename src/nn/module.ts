/**
 * `Module`: parameters, buffers and children registered by name, so that `namedParameters()` and
 * `stateDict()` give PyTorch's dotted names (`features1.4.0.conv1.weight`) and checkpoints convert by
 * name. Parameters and buffers are kept out of tidy scopes; `dispose()` frees them.
 */
import { keep } from '../engine/scope.js';
import { recorder } from '../engine/recorder.js';
import { upload, type Tensor } from '../engine/tensor.js';

/** A state-dict value: a tensor, or host data with its shape (as read from a checkpoint file). */
export type StateValue = Tensor | { shape: readonly number[]; data: ArrayLike<number> };
export type StateDict = Record<string, StateValue>;

export class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable tensor (requiresGrad on, kept out of scopes). `null` registers an absent
   *  optional parameter (a convolution without bias), which stateDict omits as PyTorch does. */
  registerParameter<T extends Tensor | null>(name: string, value: T): T {
    this.checkName(name);
    if (value) {
      value.requiresGrad = true;
      keep(value);
    }
    this.params.set(name, value);
    return value;
  }

  /** Registers state that is saved but not trained (BatchNorm running statistics). */
  registerBuffer<T extends Tensor | null>(name: string, value: T): T {
    this.checkName(name);
    if (value) keep(value);
    this.buffers.set(name, value);
    return value;
  }

  registerModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.children.set(name, module);
    return module;
  }

  *namedChildren(): Iterable<[string, Module]> {
    yield* this.children;
  }

  *namedModules(prefix = ''): Iterable<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  namedParameters(): [string, Tensor][] {
    return this.collect((m) => m.params);
  }

  parameters(): Tensor[] {
    // A parameter shared by two modules (PCNN's layer4) is listed once, as PyTorch does.
    return [...new Set(this.namedParameters().map(([, t]) => t))];
  }

  namedBuffers(): [string, Tensor][] {
    return this.collect((m) => m.buffers);
  }

  /** Name → tensor (the live tensors, as PyTorch's `state_dict()`), parameters and buffers. */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into this module's parameters and buffers by name. Strict by default: a missing,
   * unexpected, mis-shaped or (for a tensor) mis-typed entry is an error that names them (see
   * `loadTensors`); host data is converted. Returns the names not loaded.
   */
  loadStateDict(dict: StateDict, { strict = true } = {}): { missing: string[]; unexpected: string[] } {
    return loadTensors(this.stateDict(), dict, { strict, owner: this.constructor.name });
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and buffer (and their gradients), and what the modules cache (`releaseCaches`). */
  dispose(): void {
    for (const [, m] of this.namedModules()) m.releaseCaches();
    for (const t of [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)]) {
      t.grad?.dispose();
      t.dispose();
    }
  }

  /** Frees tensors this module keeps besides its parameters and buffers (derived from them, not in
   *  the state dict: folded inference weights, say); called on every module by `dispose()`. */
  protected releaseCaches(): void {}

  private collect(pick: (m: Module) => Map<string, Tensor | null>): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, t] of pick(module)) if (t) out.push([prefix ? `${prefix}.${name}` : name, t]);
    }
    return out;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`${this.constructor.name}: invalid name '${name}'`);
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is registered already`);
    }
  }
}

/**
 * Copies `dict`'s values into the tensors of `own` by name (what `loadStateDict` does, for any named
 * tensors). Strict: a missing, unexpected, mis-shaped or mis-typed entry is an error naming `owner` and
 * listing them (mis-shaped and mis-typed ones counted, the first few listed, and mis-shaped ones said to
 * fit a model of another width when they do: see widthScale); not strict: only
 * mis-shaped and mis-typed ones are errors. All are checked before anything
 * is copied. Returns the names not loaded.
 *
 * Dtypes: host data (what checkpoint readers give) is converted to the target's dtype by value, as
 * PyTorch's load_state_dict does (a .pth's int64 num_batches_tracked into our int32 counter). A tensor
 * of another dtype is refused, naming the entry and both dtypes, rather than converted: it is copied on
 * the GPU as it is, and its bytes would be reinterpreted (int32 3 as the float 4e-45).
 */
export function loadTensors(
  own: Record<string, Tensor>,
  dict: StateDict,
  { strict = true, owner }: { strict?: boolean; owner: string },
): { missing: string[]; unexpected: string[] } {
  const missing = Object.keys(own).filter((k) => !(k in dict));
  const unexpected = Object.keys(dict).filter((k) => !(k in own));
  const misShapedNames = Object.keys(dict).filter((k) => k in own && shapeKey(dict[k].shape) !== shapeKey(own[k].shape));
  const misShaped = misShapedNames.map((k) => `${k}: got [${dict[k].shape}], expected [${own[k].shape}]`);
  const misTyped = Object.entries(dict).flatMap(([k, value]) =>
    k in own && isTensor(value) && value.dtype !== own[k].dtype ? [`${k}: got ${value.dtype}, expected ${own[k].dtype}`] : [],
  );
  const scale = widthScale(misShapedNames.map((k) => [dict[k].shape, own[k].shape]));
  const scaleHint = scale === null ? '' : `, as from a model ${scale}x as wide (every size that differs is ${scale}x the model's)`;
  const problems = [
    ...(misShaped.length ? [`mis-shaped: ${countOf(misShaped)}${scaleHint}: ${summary(misShaped)}`] : []),
    ...(misTyped.length ? [`of another dtype (a tensor is copied as it is, not converted): ${countOf(misTyped)}: ${summary(misTyped)}`] : []),
    ...(strict && missing.length ? [`missing: ${missing.join(', ')}`] : []),
    ...(strict && unexpected.length ? [`unexpected: ${unexpected.join(', ')}`] : []),
  ];
  if (problems.length) throw new Error(`loadStateDict (${owner}): ${problems.join(' | ')}`);
  for (const [name, value] of Object.entries(dict)) {
    const target = own[name];
    if (!target) continue;
    if (isTensor(value)) recorder.copy(value.buffer, value.byteOffset, target.buffer, target.byteOffset, target.size * 4);
    else upload(target, value.data);
  }
  return { missing, unexpected };
}

/** Entries spelled out in loadStateDict's error per kind of problem; the rest are counted. A checkpoint
 *  of another width mis-shapes nearly every entry (hundreds in PCNN), which no one reads in full. */
const LISTED_ENTRIES = 5;

function countOf(entries: readonly string[]): string {
  return `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}`;
}

/** The first LISTED_ENTRIES entries, and how many more there are. */
function summary(entries: readonly string[]): string {
  const listed = entries.slice(0, LISTED_ENTRIES).join('; ');
  return entries.length > LISTED_ENTRIES ? `${listed}; and ${entries.length - LISTED_ENTRIES} more` : listed;
}

/** The factor by which a model of another width would scale the shapes in `pairs` ([got, expected]), or
 *  null when they do not look like one: every pair the same rank, each size equal or r times the
 *  expected one (channel counts scale, kernel sizes and class counts do not), and some tensor with two
 *  sizes scaled (a layer between two width-sized ones; a class count alone scales one size a tensor). */
function widthScale(pairs: readonly (readonly [readonly number[], readonly number[]])[]): number | null {
  let scale: number | null = null;
  let scalesTwoSizes = false;
  for (const [got, expected] of pairs) {
    if (got.length !== expected.length) return null;
    let scaled = 0;
    for (let d = 0; d < got.length; d++) {
      if (got[d] === expected[d]) continue;
      if (expected[d] === 0) return null;
      const ratio = got[d] / expected[d];
      if (scale !== null && ratio !== scale) return null;
      scale = ratio;
      scaled++;
    }
    scalesTwoSizes ||= scaled >= 2;
  }
  return scale !== null && scalesTwoSizes ? Number(scale.toPrecision(3)) : null;
}

function isTensor(value: StateValue): value is Tensor {
  return 'buffer' in value;
}

function shapeKey(shape: readonly number[]): string {
  return shape.join(',');
}

/** A module with a one-tensor forward, the kind `Sequential` chains. */
export type Layer = Module & { forward(x: Tensor): Tensor };

/** Modules applied in order, named `0`, `1`, … as in PyTorch. */
export class Sequential extends Module {
  readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((layer, i) => this.registerModule(String(i), layer));
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((y, layer) => layer.forward(y), x);
  }
}
