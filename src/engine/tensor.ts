/**
 * Tensors: f32 (or i32, for labels and indices, or bool, for masks) data in a pooled GPU buffer, contiguous in row-major
 * order, with shape and strides. Views made by `reshape` share the storage (reference counted); every
 * other op writes a new tensor. Reading back is asynchronous and is the only point that waits.
 */
import { gpu, onRelease, readbackError } from './device.js';
import { pool } from './pool.js';
import { recorder, dispatch, workgroups1d } from './recorder.js';
import { Kernel } from './kernel.js';
import { adopt, keep, type Owned } from './scope.js';
import { defaultGenerator, type Generator } from './random.js';
import { backward, releaseNode, type BackwardOptions, type GradNode } from './autograd.js';
import fillSource from '../../shaders/engine/fill.wgsl';

/**
 * Element types. Every element takes one 32-bit word: `bool` is stored as a u32 holding 0 or 1, so
 * that a kernel binds a mask as `array<u32>` (as PyTorch, a bool tensor is made from booleans or 0 / 1
 * and read back as booleans: `toBoolArray()`).
 */
export type DType = 'float32' | 'int32' | 'bool';

/** The method that reads a tensor of each dtype back, named in the error of the wrong one. */
const readers: Record<DType, string> = { float32: 'toArray()', int32: 'toInt32Array()', bool: 'toBoolArray()' };

/** A tensor's data was asked for after `dispose()` (autograd names the op whose saved tensor it was). */
export class DisposedTensorError extends Error {
  constructor(
    readonly shape: readonly number[],
    op?: string,
  ) {
    super(`${op ? `${op}: ` : ''}tensor of shape [${shape}] used after dispose()`);
  }
}

/** Counts `release()`s: storage made before the last one belongs to a destroyed device. */
let deviceGeneration = 0;
onRelease(() => deviceGeneration++);

class Storage {
  refs = 1;
  readonly generation = deviceGeneration;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}

  release(): void {
    if (--this.refs === 0) pool.release(this.buffer);
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

export function checkShape(shape: readonly number[], op: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: shape must be a list of non-negative integers, got [${shape}]`);
  }
}

export class Tensor implements Owned {
  readonly strides: readonly number[];
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** How this tensor was computed, for backward; null for leaves and outside grad mode. */
  node: GradNode | null = null;
  scope: Set<Owned> | null = null;
  private storage: Storage | null;
  /** Where the data starts in the storage's buffer: 0 except for a packed tensor (`packTensors`). */
  private offsetBytes = 0;
  /** A packed tensor is one range of a buffer that other tensors share, and is bound as that range. */
  private packed = false;

  /** Internal: use `tensor()`, `empty()` and the ops. */
  constructor(
    readonly shape: readonly number[],
    storage: Storage,
    readonly dtype: DType = 'float32',
  ) {
    this.strides = contiguousStrides(shape);
    this.size = numel(shape);
    this.storage = storage;
    adopt(this);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new DisposedTensorError(this.shape);
    if (this.storage.generation !== deviceGeneration) {
      // Bound on the new device, the old buffer would fail the next submit, whichever op it holds.
      throw new Error(`tensor of shape [${this.shape}] was made on a device that release() destroyed; make it again after init()`);
    }
    return this.storage.buffer;
  }

  /** Bytes from the start of `buffer` to this tensor's first element (0 but for a packed tensor). */
  get byteOffset(): number {
    return this.offsetBytes;
  }

  /** For a packed tensor, the bytes a dispatch binds from `byteOffset` (the elements, rounded up to a
   *  whole vec4 as a pool buffer is); undefined for every other tensor, bound as its whole buffer. */
  get bindBytes(): number | undefined {
    return this.packed ? Math.max(16, Math.ceil((this.size * 4) / 16) * 16) : undefined;
  }

  /** Whether `packTensors` may move this tensor: no other tensor shares its storage, unless it is
   *  packed already (its storage then is the pack's, shared by design). */
  get relocatable(): boolean {
    return this.storage !== null && (this.packed || this.storage.refs === 1);
  }

  /** Internal (`packTensors`): this tensor's data now lives in `base`'s storage at `byteOffset`. */
  relocate(base: Tensor, byteOffset: number): void {
    if (!this.storage || !base.storage) throw new DisposedTensorError(this.storage ? base.shape : this.shape, 'packTensors');
    base.storage.refs++;
    this.storage.release();
    this.storage = base.storage;
    this.offsetBytes = byteOffset;
    this.packed = true;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** Frees the storage (when no view shares it). Safe to call twice. */
  dispose(): void {
    if (!this.storage) return;
    this.storage.release();
    this.storage = null;
    // The name of the op stays, for the error of a backward that reaches a disposed tensor.
    if (this.node) this.node = releaseNode(this.node);
    this.scope?.delete(this);
    this.scope = null;
  }

  /** A view of the same data with another shape (`-1` once: inferred). */
  view(shape: readonly number[]): Tensor {
    const resolved = resolveShape(shape, this.size, 'reshape', this.shape);
    if (!this.storage) throw new DisposedTensorError(this.shape, 'reshape');
    this.storage.refs++;
    const out = new Tensor(resolved, this.storage, this.dtype);
    out.offsetBytes = this.offsetBytes;
    out.packed = this.packed;
    return out;
  }

  async toArray(): Promise<Float32Array> {
    this.expectDType('float32', 'toArray');
    return new Float32Array(await this.read());
  }

  async toInt32Array(): Promise<Int32Array> {
    this.expectDType('int32', 'toInt32Array');
    return new Int32Array(await this.read());
  }

  /** A bool tensor's elements as booleans (row-major), as PyTorch's `tolist()` gives them. */
  async toBoolArray(): Promise<boolean[]> {
    this.expectDType('bool', 'toBoolArray');
    return Array.from(new Uint32Array(await this.read()), (word) => word !== 0);
  }

  /** The single value of a one-element tensor (a bool tensor's as 0 or 1). */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, expected 1 (shape [${this.shape}])`);
    if (this.dtype === 'bool') return Number((await this.toBoolArray())[0]);
    return (this.dtype === 'float32' ? await this.toArray() : await this.toInt32Array())[0];
  }

  private expectDType(dtype: DType, method: string): void {
    if (this.dtype !== dtype) throw new Error(`${method}: tensor is ${this.dtype}; use ${readers[this.dtype]}`);
  }

  /** Reverse-mode gradient of this tensor with respect to every leaf that requires grad.
   *  Without `grad`, this tensor must hold one element (the upstream gradient is 1). The graph is freed
   *  unless `retainGraph` (then another backward may run through it). */
  backward(grad?: Tensor | BackwardOptions, options?: BackwardOptions): void {
    if (grad instanceof Tensor || grad === undefined) backward(this, grad, options);
    else backward(this, undefined, grad);
  }

  /** A copy with its own storage, outside the graph. */
  clone(): Tensor {
    const out = empty(this.shape, this.dtype, 'clone');
    recorder.copy(this.buffer, this.byteOffset, out.buffer, 0, this.size * 4);
    return out;
  }

  /** The same data, cut from the graph (shares storage). */
  detach(): Tensor {
    return this.view(this.shape);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  private async read(): Promise<ArrayBuffer> {
    const bytes = this.size * 4;
    const { device } = gpu();
    const staging = device.createBuffer({ size: Math.max(bytes, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    recorder.copy(this.buffer, this.byteOffset, staging, 0, bytes);
    recorder.flush();
    try {
      const settled = await recorder.beforeReadback();
      await staging.mapAsync(GPUMapMode.READ).catch(async (error: unknown) => {
        throw await readbackError(device, error, `reading back a tensor of shape [${this.shape}]`);
      });
      settled();
      return staging.getMappedRange(0, bytes).slice(0);
    } finally {
      staging.destroy();
    }
  }
}

export function resolveShape(shape: readonly number[], size: number, op: string, from?: readonly number[]): number[] {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new Error(`${op}: at most one dimension may be -1, got [${shape}]`);
  checkShape(shape.map((d) => (d === -1 ? 0 : d)), op);
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const result = shape.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
  if (numel(result) !== size || result.some((d) => !Number.isInteger(d))) {
    throw new Error(`${op}: cannot view ${from ? `shape [${from}] ` : ''}(${size} elements) as [${shape}]`);
  }
  return result;
}

/**
 * Moves float32 tensors into one buffer, each at an offset aligned for binding
 * (minStorageBufferOffsetAlignment), their values copied: afterwards they are views of ranges of that
 * buffer (each tensor object stays the same, so modules and optimizers holding it see the move), and
 * the returned base tensor spans them all, so that one dispatch can update all of them (the multi-tensor
 * optimizers). `offsets` are in elements. Tensors sharing storage with another tensor (views) are refused.
 */
export function packTensors(tensors: readonly Tensor[], label: string): { base: Tensor; offsets: number[] } {
  const align = Math.max(16, gpu().limits.minStorageBufferOffsetAlignment) / 4;
  const offsets: number[] = [];
  let total = 0;
  const shared = tensors.find((t) => !t.relocatable);
  if (shared) throw new Error(`packTensors: ${shared} shares its storage with another tensor (a view) or was disposed`);
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new Error(`packTensors: tensor of shape [${t.shape}] is ${t.dtype}, expected float32`);
    offsets.push(total);
    total += Math.ceil(Math.max(t.size, 1) / align) * align;
  }
  const base = empty([total], 'float32', label);
  tensors.forEach((t, i) => {
    recorder.copy(t.buffer, t.byteOffset, base.buffer, offsets[i] * 4, t.size * 4);
    t.relocate(base, offsets[i] * 4);
  });
  return { base, offsets };
}

/** A tensor of `shape` viewing `base`'s elements from `offset` on, bound as its own range like a
 *  packed tensor (an optimizer's per-parameter state inside one flat buffer); contents as they are. */
export function packedView(base: Tensor, offset: number, shape: readonly number[]): Tensor {
  const align = Math.max(16, gpu().limits.minStorageBufferOffsetAlignment) / 4;
  if (!Number.isInteger(offset / align) || offset < 0 || offset + numel(shape) > base.size) {
    throw new Error(`packedView: [${shape}] at element ${offset} does not fit aligned in a tensor of ${base.size} elements`);
  }
  const view = empty(shape, base.dtype, 'packedView');
  view.relocate(base, base.byteOffset + offset * 4);
  return view;
}

/** A new tensor with uninitialised contents. */
export function empty(shape: readonly number[], dtype: DType = 'float32', op = 'empty'): Tensor {
  checkShape(shape, op);
  const bytes = numel(shape) * 4;
  return new Tensor(shape, new Storage(pool.acquire(bytes, `${op} [${shape}]`), bytes), dtype);
}

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

/** Host data for a tensor: numbers, or booleans (or 0 / 1) for a bool tensor. */
export type TensorData = ArrayLike<number> | ArrayLike<boolean>;

/** `options.requiresGrad`, refused for a dtype other than float32 (as PyTorch: only floats have gradients). */
function gradFlag(options: TensorOptions, dtype: DType, op: string): boolean {
  if (options.requiresGrad && dtype !== 'float32') throw new Error(`${op}: only float32 tensors can require gradients, got dtype ${dtype}`);
  return options.requiresGrad ?? false;
}

/**
 * A tensor from host data (row-major), uploaded through a staging buffer ordered with recorded work.
 * The dtype, unless given, is int32 for an Int32Array, bool for an array of booleans, else float32.
 */
export function tensor(data: TensorData, shape?: readonly number[], options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? (data instanceof Int32Array ? 'int32' : typeof data[0] === 'boolean' ? 'bool' : 'float32');
  const resolved = shape ?? [data.length];
  checkShape(resolved, 'tensor');
  if (numel(resolved) !== data.length) {
    throw new Error(`tensor: ${data.length} values do not fill shape [${resolved}] (${numel(resolved)} elements)`);
  }
  const requiresGrad = gradFlag(options, dtype, 'tensor');
  const words = hostWords(data, dtype);
  const out = empty(resolved, dtype, 'tensor');
  uploadWords(out, words);
  out.requiresGrad = requiresGrad;
  return out;
}

/** Overwrites a tensor's contents with host data (a bool tensor's: booleans or 0 / 1). */
export function upload(target: Tensor, data: TensorData): void {
  if (data.length !== target.size) {
    throw new Error(`upload: ${data.length} values for a tensor of shape [${target.shape}] (${target.size} elements)`);
  }
  uploadWords(target, hostWords(data, target.dtype));
}

function uploadWords(target: Tensor, words: Uint32Array): void {
  if (target.size === 0) return;
  const bytes = target.size * 4;
  const staging = gpu().device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
  new Uint32Array(staging.getMappedRange()).set(words);
  staging.unmap();
  recorder.copy(staging, 0, target.buffer, target.byteOffset, bytes);
  recorder.onSubmit(() => staging.destroy());
}

/** The 32-bit words of host data in `dtype`, every value checked (before any GPU object is made). */
function hostWords(data: TensorData, dtype: DType): Uint32Array {
  if (dtype === 'bool') return Uint32Array.from({ length: data.length }, (_, i) => boolWord(data[i], `tensor: bool data at ${i}`));
  if (dtype === 'int32') {
    const ints = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || (v as number) < -(2 ** 31) || (v as number) > 2 ** 31 - 1) {
        throw new Error(`tensor: int32 data at ${i} is ${v}; an int32 tensor holds integers -2147483648..2147483647`);
      }
      ints[i] = v as number;
    }
    return new Uint32Array(ints.buffer);
  }
  // A batch of images arrives as a Float32Array: its words as they are, without a host copy.
  if (data instanceof Float32Array) return new Uint32Array(data.buffer, data.byteOffset, data.length);
  // Another typed array holds numbers only; a plain array may hide a boolean anywhere.
  if (!ArrayBuffer.isView(data)) {
    const at = Array.prototype.findIndex.call(data, (v: unknown) => typeof v === 'boolean');
    if (at >= 0) throw new Error(`tensor: boolean data at ${at} for a ${dtype} tensor; booleans make a bool tensor (dtype 'bool')`);
  }
  return new Uint32Array(Float32Array.from(data as ArrayLike<number>).buffer);
}

const fillKernel = new Kernel('fill', fillSource);

/** The word of a bool element: 1 for true or 1, 0 for false or 0; anything else is refused. */
function boolWord(value: unknown, what: string): number {
  if (value === true || value === 1) return 1;
  if (value === false || value === 0) return 0;
  throw new Error(`${what} is ${typeof value === 'number' ? value : `${typeof value} ${String(value)}`}; a bool tensor holds true / false or 1 / 0`);
}

/** The 32-bit word that holds `value` in a tensor of `dtype` (float32: rounded to nearest). */
function wordOf(value: number | boolean, dtype: DType, op: string): number {
  if (dtype === 'bool') return boolWord(value, `${op}: the value`);
  if (typeof value === 'boolean') throw new Error(`${op}: the boolean ${value} fills only a bool tensor (dtype 'bool'), not ${dtype}`);
  if (dtype === 'float32') return new Uint32Array(Float32Array.of(value).buffer)[0];
  if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
    throw new Error(`${op}: an int32 tensor holds integers ${-(2 ** 31)}..${2 ** 31 - 1}, got ${value}`);
  }
  return value >>> 0;
}

/** A tensor of `options.dtype` (default float32; bool when `value` is a boolean) with every element `value`. */
export function full(shape: readonly number[], value: number | boolean, options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  const word = wordOf(value, dtype, 'full');
  const requiresGrad = gradFlag(options, dtype, 'full');
  const out = empty(shape, dtype, 'full');
  dispatch(fillKernel, {
    workgroups: workgroups1d(Math.ceil(out.size / (fillKernel.constant('ELEMENTS_PER_INVOCATION') * fillKernel.workgroupInvocations))),
    buffers: { out },
    uniforms: { count: out.size, word },
  });
  out.requiresGrad = requiresGrad;
  return out;
}

export const zeros = (shape: readonly number[], options?: TensorOptions) => full(shape, 0, options);
export const ones = (shape: readonly number[], options?: TensorOptions) => full(shape, 1, options);

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

/** Standard normal samples (seeded: see `manualSeed`). */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = g.normal();
  return tensor(data, shape, options);
}

/** Uniform samples in [low, high) (seeded). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = g.uniform(options.low ?? 0, options.high ?? 1);
  return tensor(data, shape, options);
}

/** Marks `t` as a trainable leaf owned by the caller (out of every tidy scope). */
export function parameter(t: Tensor): Tensor {
  t.requiresGrad = true;
  return keep(t);
}
