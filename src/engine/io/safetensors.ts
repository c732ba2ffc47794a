/**
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON ({ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string:
 * string } }, space-padded), then the tensors' bytes, offsets relative to the end of the header.
 * `encodeSafetensors` / `decodeSafetensors` work on bytes (browser and Node); the path-taking
 * `saveSafetensors` (atomic) and `loadSafetensors` load the Node-only file module on demand.
 * Decoding validates everything the format's reference reader does: header length, UTF-8 JSON,
 * known dtypes, sizes = numel x element size, offsets inside the file, contiguous and non-overlapping.
 */
import { arrayFromBytes, bytesOf, defineEntry, dtypeOf, elementBytes, isIoDType, isShape, numelOf, type HostData, type HostTensor } from './dtypes.js';

export type { HostTensor, HostData, IoDType } from './dtypes.js';

/** What may be saved: a typed array and its shape; `dtype` only where the array type is ambiguous
 *  (F16 and BF16 as Uint16Array bits, BOOL as Uint8Array). */
export interface TensorToSave {
  shape: readonly number[];
  data: HostData;
  dtype?: HostTensor['dtype'];
}

export interface Safetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

/** The reference implementation's limit: a larger header is a corrupt length field. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function checkMetadata(metadata: unknown, what: string): Record<string, string> {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new Error(`${what}: ${METADATA_KEY} must be an object of strings`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`${what}: metadata '${key}' must be a string, got ${typeof value}`);
  }
  return metadata as Record<string, string>;
}

/** The file's bytes for `tensors` (in the order given) and string `metadata`. */
export function encodeSafetensors(tensors: Record<string, TensorToSave>, metadata?: Record<string, string>): Uint8Array {
  const what = 'saveSafetensors';
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) defineEntry(header, METADATA_KEY, checkMetadata(metadata, what));
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const where = `${what}: tensor '${name}'`;
    if (name === METADATA_KEY) throw new Error(`${what}: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (!isShape(t.shape)) throw new Error(`${where}: shape must be non-negative integers, got [${t.shape}]`);
    const dtype = dtypeOf(t.data, t.dtype, where);
    if (t.data.length !== numelOf(t.shape)) {
      throw new Error(`${where}: ${t.data.length} values for shape [${t.shape}] (${numelOf(t.shape)} elements)`);
    }
    const bytes = bytesOf(t.data, where);
    defineEntry(header, name, { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] });
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Padded with spaces (as the reference writer does) so that the data starts 8-byte aligned.
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerBytes + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes), true);
  out.fill(0x20, 8, 8 + headerBytes);
  out.set(json, 8);
  let at = 8 + headerBytes;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: HostTensor['dtype'];
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(bytes: Uint8Array, what: string): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) {
    throw new Error(`${what}: truncated: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new Error(
      `${what}: header length ${length} does not fit (file of ${bytes.length} bytes, limit ${MAX_HEADER_BYTES}): truncated or not a safetensors file`,
    );
  }
  const dataStart = 8 + Number(length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw new Error(`${what}: header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error(`${what}: header must be a JSON object`);
  }
  return { header: header as Record<string, unknown>, dataStart };
}

function parseEntry(name: string, info: unknown, what: string): Entry {
  const where = `${what}: tensor '${name}'`;
  const { dtype, shape, data_offsets: offsets } = (info ?? {}) as Record<string, unknown>;
  if (!isIoDType(dtype)) throw new Error(`${where}: unknown or missing dtype ${JSON.stringify(dtype)}`);
  if (!isShape(shape)) throw new Error(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new Error(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const expected = numelOf(shape) * elementBytes(dtype);
  if (offsets[1] - offsets[0] !== expected) {
    throw new Error(`${where}: ${offsets[1] - offsets[0]} bytes, but ${dtype} [${shape}] needs ${expected}`);
  }
  return { name, dtype, shape, begin: offsets[0], end: offsets[1] };
}

/** Tensors and metadata from a file's bytes; `name` (the path, say) is used in errors. */
export function decodeSafetensors(bytes: Uint8Array, name = 'safetensors bytes'): Safetensors {
  const what = `loadSafetensors ${name}`;
  const { header, dataStart } = parseHeader(bytes, what);
  const dataBytes = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, info] of Object.entries(header)) {
    if (key === METADATA_KEY) metadata = checkMetadata(info, what);
    else entries.push(parseEntry(key, info, what));
  }
  // Sorted by position, the tensors must tile the data exactly: no gap, no overlap, no tail.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const entry of sorted) {
    if (entry.begin !== position) {
      const problem = entry.begin < position ? 'overlaps the tensor before it' : `leaves a gap after byte ${position}`;
      throw new Error(`${what}: tensor '${entry.name}' at bytes ${entry.begin}..${entry.end} ${problem}`);
    }
    position = entry.end;
  }
  if (position !== dataBytes) {
    const problem = position > dataBytes ? `the file holds only ${dataBytes} (truncated?)` : `the file holds ${dataBytes} (trailing bytes)`;
    throw new Error(`${what}: the header describes ${position} bytes of tensor data but ${problem}`);
  }
  const tensors: Record<string, HostTensor> = {};
  for (const entry of entries) {
    const data = arrayFromBytes(entry.dtype, bytes.subarray(dataStart + entry.begin, dataStart + entry.end), numelOf(entry.shape), what);
    defineEntry(tensors, entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { tensors, metadata };
}

/** Writes a safetensors file atomically (temporary file in the same directory, fsync, rename). Node only. */
export async function saveSafetensors(path: string, tensors: Record<string, TensorToSave>, metadata?: Record<string, string>): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  const { writeFileAtomic } = await import('./atomic-file.js');
  writeFileAtomic(path, bytes);
}

/** Reads a safetensors file (a path: Node only) or decodes bytes already in memory. */
export async function loadSafetensors(source: string | Uint8Array): Promise<Safetensors> {
  if (typeof source !== 'string') return decodeSafetensors(source);
  const { readFileBytes } = await import('./atomic-file.js');
  return decodeSafetensors(readFileBytes(source), source);
}
