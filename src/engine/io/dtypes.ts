/**
 * Host-side tensors as checkpoint files hold them: a dtype (safetensors' names), a shape and a typed
 * array in row-major order. Shared by the safetensors and .pth readers; no GPU, no file system.
 * 16-bit floats (F16, BF16) are kept as their raw bits in a Uint16Array; BOOL as bytes (0 or 1).
 */

export type IoDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export type HostData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface HostTensor {
  dtype: IoDType;
  shape: number[];
  data: HostData;
}

interface ArrayType {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): HostData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): HostData;
}

const arrayTypes: Record<IoDType, ArrayType> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** The dtype a typed array stands for when none is given (F16, BF16 and BOOL must be named). */
const inferred = new Map<ArrayType, IoDType>(
  (['F64', 'F32', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8'] as const).map((d) => [arrayTypes[d], d]),
);

// The formats are little-endian, and typed arrays use the platform's byte order.
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function checkByteOrder(what: string): void {
  if (!littleEndian) throw new Error(`${what}: checkpoint files are little-endian; this platform is big-endian`);
}

export function isIoDType(name: unknown): name is IoDType {
  return typeof name === 'string' && Object.hasOwn(arrayTypes, name);
}

export function elementBytes(dtype: IoDType): number {
  return arrayTypes[dtype].BYTES_PER_ELEMENT;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** The dtype of `data`: `dtype` if given (checked against the array type), else the array's own. */
export function dtypeOf(data: HostData, dtype: IoDType | undefined, what: string): IoDType {
  if (dtype !== undefined) {
    if (!isIoDType(dtype)) throw new Error(`${what}: unknown dtype '${dtype}'`);
    if (!(data instanceof arrayTypes[dtype])) {
      throw new Error(`${what}: dtype ${dtype} needs a ${arrayTypes[dtype].name}, got a ${data.constructor.name}`);
    }
    return dtype;
  }
  const found = inferred.get(data.constructor as ArrayType);
  if (!found) throw new Error(`${what}: cannot store a ${data.constructor.name} without an explicit dtype`);
  return found;
}

/** A new typed array of `count` elements of `dtype`, copied from little-endian bytes (which need
 *  not be aligned). */
export function arrayFromBytes(dtype: IoDType, bytes: Uint8Array, count: number, what: string): HostData {
  checkByteOrder(what);
  const Type = arrayTypes[dtype];
  const out = new Type(count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, count * Type.BYTES_PER_ELEMENT));
  return out;
}

/** The little-endian bytes of a typed array (a view, not a copy). */
export function bytesOf(data: HostData, what: string): Uint8Array {
  checkByteOrder(what);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An empty typed array of `count` elements of `dtype`. */
export function allocate(dtype: IoDType, count: number): HostData {
  return new arrayTypes[dtype](count);
}

/** Sets `target[key]` as an own data property, so that a key read from a file ("__proto__", say)
 *  is a plain entry and never reaches the prototype. */
export function defineEntry<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
