/**
 * PyTorch checkpoints written by torch.save (the zip format since 1.6): `<prefix>/data.pkl` is a
 * pickle whose tensors refer, by persistent id, to storages stored raw in `<prefix>/data/<key>`.
 * The pickle is read by a restricted interpreter that knows only the globals torch uses for plain
 * data (OrderedDict, tensor and parameter rebuilding, the typed storage classes) and refuses any
 * other by name, before anything could run. Tensors come back as `HostTensor`s (copied out of their
 * storage, views and offsets applied); dicts as plain objects.
 * A view's size is declared by the file, not bounded by it: a stride-0 (expanded) view of a one-element
 * storage may claim [2^28, 4]. Copying views out would then cost far more memory than the file's bytes, so
 * the elements of all the file's views together are counted while the pickle is read, refused past
 * `maxElements`, and a tensor's elements are copied only when its `data` is first read.
 */
import { allocate, arrayFromBytes, elementBytes, isShape, numelOf, type HostData, type HostTensor, type IoDType } from './dtypes.js';
import { isDict, unpickle, type AllowedGlobal } from './pickle.js';
import { readStoredZip, type StoredZip } from './zip.js';

/** A tensor read from a .pth file. */
export class PthTensor implements HostTensor {
  private copied: HostData | undefined;
  constructor(
    readonly dtype: IoDType,
    readonly shape: number[],
    private readonly copyOut: () => HostData,
  ) {}
  /** The elements, row-major. Copied out of the storage on first use, not while the file is read, so that
   *  the whole file's element count is checked first and a caller can check shapes before paying for them. */
  get data(): HostData {
    return (this.copied ??= this.copyOut());
  }
}

export type PthValue = null | boolean | number | bigint | string | Uint8Array | PthTensor | PthValue[] | { [key: string]: PthValue };

/** The storage classes torch 1.13 pickles (torch.<Name>), and the dtypes of their elements. */
const storageTypes: Record<string, IoDType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

class StorageType implements AllowedGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: IoDType,
  ) {}
  call(): never {
    throw new Error(`${this.qualifiedName} cannot be called from a checkpoint`);
  }
}

class Storage {
  constructor(
    readonly dtype: IoDType,
    readonly key: string,
    readonly numel: number,
    readonly data: HostData,
  ) {}
}

/** The default of `PthOptions.maxElements`: 2^28 elements (1 GiB of float32), far above PCNN's ~11 M
 *  parameters and far below what would exhaust a machine's memory. */
export const DEFAULT_PTH_MAX_ELEMENTS = 2 ** 28;

export interface PthOptions {
  /** The most elements the file's tensors may hold together, views counted at their full size
   *  (default DEFAULT_PTH_MAX_ELEMENTS); a file claiming more is refused before anything is copied. */
  maxElements?: number;
}

/** Counts the elements of one file's views, at their full size, against its `maxElements`. */
class ElementBudget {
  private used = 0;
  constructor(
    readonly maxElements: number,
    private readonly what: string,
  ) {
    if (!(Number.isSafeInteger(maxElements) && maxElements >= 0)) {
      throw new Error(`${what}: maxElements must be a non-negative integer, got ${maxElements}`);
    }
  }
  take(count: number, shape: readonly number[], stride: readonly number[]): void {
    if (count > this.maxElements - this.used) {
      throw new Error(
        `${this.what}: tensor [${shape}] with stride [${stride}] holds ${count} elements, and with the ${this.used} of the ` +
          `tensors before it the file's tensors would hold more than the limit of ${this.maxElements} elements ` +
          `(loadPth's maxElements option raises it)`,
      );
    }
    this.used += count;
  }
}

function rebuildTensor(args: unknown[], what: string, budget: ElementBudget): PthTensor {
  const [storage, offset, shape, stride] = args as [Storage, unknown, unknown, unknown];
  if (!(storage instanceof Storage) || !isShape(shape) || !isShape(stride) || stride.length !== shape.length) {
    throw new Error(`${what}: malformed _rebuild_tensor_v2 arguments`);
  }
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`${what}: bad storage offset ${String(offset)}`);
  const count = numelOf(shape);
  const last = (offset as number) + shape.reduce((sum, d, i) => sum + (d - 1) * stride[i], 0);
  // `last` past 2^53 is inexact, but still past any storage's end.
  if (count > 0 && !(last < storage.numel)) {
    throw new Error(
      `${what}: tensor [${shape}] with stride [${stride}] at offset ${offset} reaches element ${last} of storage ` +
        `'${storage.key}', which holds ${storage.numel}`,
    );
  }
  budget.take(count, shape, stride);
  return new PthTensor(storage.dtype, [...shape], () => copyView(storage, offset as number, shape, stride, count));
}

function copyView(storage: Storage, offset: number, shape: readonly number[], stride: readonly number[], count: number): HostData {
  const out = allocate(storage.dtype, count);
  // An odometer over the shape: `source` follows the strides, the output is row-major.
  const index = new Array<number>(shape.length).fill(0);
  let source = offset;
  for (let i = 0; i < count; i++) {
    (out as unknown as unknown[])[i] = (storage.data as unknown as unknown[])[source];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        source += stride[d];
        break;
      }
      index[d] = 0;
      source -= (shape[d] - 1) * stride[d];
    }
  }
  return out;
}

function allowedGlobals(what: string, budget: ElementBudget): Map<string, AllowedGlobal> {
  const globals: AllowedGlobal[] = [
    {
      qualifiedName: 'collections.OrderedDict',
      call(args) {
        if (args.length) throw new Error(`${what}: OrderedDict with arguments is not supported`);
        return {};
      },
    },
    { qualifiedName: 'torch._utils._rebuild_tensor_v2', call: (args) => rebuildTensor(args, what, budget) },
    {
      qualifiedName: 'torch._utils._rebuild_parameter',
      call(args) {
        if (!(args[0] instanceof PthTensor)) throw new Error(`${what}: _rebuild_parameter without a tensor`);
        return args[0];
      },
    },
    ...Object.entries(storageTypes).map(([name, dtype]) => new StorageType(`torch.${name}`, dtype)),
  ];
  return new Map(globals.map((g) => [g.qualifiedName, g]));
}

/** The pickle's top-level object, tensors decoded; `name` (the path, say) is used in errors. */
export function decodePth(bytes: Uint8Array, name = 'pth bytes', options: PthOptions = {}): PthValue {
  const what = `loadPth ${name}`;
  const budget = new ElementBudget(options.maxElements ?? DEFAULT_PTH_MAX_ELEMENTS, what);
  const zip: StoredZip = readStoredZip(bytes, what);
  const pickleName = zip.names.find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pickleName) {
    throw new Error(`${what}: no <archive>/data.pkl entry (entries: ${zip.names.slice(0, 5).join(', ')}): not a torch.save zip file`);
  }
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const globals = allowedGlobals(what, budget);
  const storages = new Map<string, Storage>();
  return unpickle(zip.read(pickleName), {
    global(module, globalName) {
      const found = globals.get(`${module}.${globalName}`);
      if (!found) throw new Error(`${what}: pickled object '${module}.${globalName}' is not a tensor: refusing to load`);
      return found;
    },
    persistentLoad(pid) {
      const [kind, type, key, , numel] = Array.isArray(pid) ? pid : [];
      if (kind !== 'storage' || !(type instanceof StorageType) || typeof key !== 'string' || !Number.isSafeInteger(numel)) {
        throw new Error(`${what}: unsupported persistent id ${JSON.stringify(pid)}`);
      }
      let storage = storages.get(key);
      if (!storage) {
        const raw = zip.read(`${prefix}data/${key}`);
        const expected = (numel as number) * elementBytes(type.dtype);
        if (raw.length !== expected) {
          throw new Error(`${what}: storage '${key}' has ${raw.length} bytes, expected ${numel} x ${type.dtype} = ${expected}`);
        }
        storage = new Storage(type.dtype, key, numel as number, arrayFromBytes(type.dtype, raw, numel as number, what));
        storages.set(key, storage);
      }
      if (storage.dtype !== type.dtype) throw new Error(`${what}: storage '${key}' is used as both ${storage.dtype} and ${type.dtype}`);
      return storage;
    },
    build(target) {
      // BUILD on a dict sets Python attributes, such as a state_dict's `_metadata` (module versions):
      // not data, and dropped.
      if (!isDict(target)) throw new Error(`${what}: BUILD on something other than a dict is not supported`);
    },
  }, what) as PthValue;
}

/** Reads a .pth file (a path: Node only) or decodes bytes already in memory. */
export async function loadPth(source: string | Uint8Array, options: PthOptions = {}): Promise<PthValue> {
  if (typeof source !== 'string') return decodePth(source, undefined, options);
  const { readFileBytes } = await import('./atomic-file.js');
  return decodePth(readFileBytes(source), source, options);
}

/** The state dict in a loaded checkpoint: `obj.state_dict` when present, else `obj` itself; every
 *  value must be a tensor. */
export function pthStateDict(obj: PthValue): Record<string, PthTensor> {
  const dict = isDict(obj) && isDict(obj.state_dict) ? obj.state_dict : obj;
  if (!isDict(dict)) throw new Error(`pthStateDict: expected a dict of tensors, got ${Array.isArray(dict) ? 'a list' : typeof dict}`);
  for (const [key, value] of Object.entries(dict)) {
    if (!(value instanceof PthTensor)) {
      throw new Error(`pthStateDict: entry '${key}' is ${value === null ? 'None' : typeof value}, not a tensor`);
    }
  }
  return dict as Record<string, PthTensor>;
}
