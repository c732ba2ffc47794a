// A safetensors fixture of test/fixtures (written by scripts/fixtures/*.py) read as host numbers: float16
// (stored where the values are exactly representable, to keep fixtures small) and float32 as Float32Array,
// int64 as Int32Array.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeSafetensors, type HostTensor } from '../../src/engine/io/safetensors.js';
import { repoRoot } from './index.js';

function float16(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

export function numbers(t: HostTensor): Float32Array | Int32Array {
  if (t.dtype === 'F16') return Float32Array.from(t.data as Uint16Array, float16);
  if (t.dtype === 'I64') return Int32Array.from(t.data as BigInt64Array, Number);
  return t.data as Float32Array;
}

export interface Fixture {
  tensors: Record<string, HostTensor>;
  /** The tensor `name` as numbers; a missing one is an error naming it. */
  get(name: string): Float32Array;
  /** The tensors whose names start with `prefix`, under the rest of their names. */
  prefixed(prefix: string): Record<string, HostTensor>;
}

export function readFixture(file: string): Fixture {
  const { tensors } = decodeSafetensors(readFileSync(path.join(repoRoot, 'test/fixtures', file)), file);
  return {
    tensors,
    get(name) {
      const t = tensors[name];
      if (!t) throw new Error(`${file} has no '${name}'`);
      return numbers(t) as Float32Array;
    },
    prefixed: (prefix) => Object.fromEntries(Object.entries(tensors).flatMap(([k, t]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), t]] : []))),
  };
}
