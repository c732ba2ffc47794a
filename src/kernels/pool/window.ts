/** Argument checks and output sizes shared by the pooling ops, with PyTorch's rules and messages. */
import type { Tensor } from '../../engine/tensor.js';
import { expectFloat32 } from '../checks.js';

export type IntOrPair = number | readonly [number, number];

/** Window geometry; the field names are the uniforms of the avg pooling shaders, which max.ts passes to the
 *  max pooling shaders as override constants (a type alias, not an interface, so that it is assignable to
 *  the uniforms record). */
export type PoolGeometry = {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
};

export interface PoolOptions {
  kernelSize: IntOrPair;
  /** Default: kernelSize. */
  stride?: IntOrPair;
  padding?: IntOrPair;
  /** Output sizes rounded up instead of down (a last window may start inside the right padding). */
  ceilMode?: boolean;
}

function isIntOrPair(value: unknown): value is IntOrPair {
  return typeof value === 'number' || (Array.isArray(value) && value.length === 2);
}

export function toPair(value: IntOrPair, what: string, op: string, min: number): [number, number] {
  const pair: [number, number] | null = !isIntOrPair(value) ? null : typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (!pair?.every((v) => Number.isInteger(v) && v >= min)) {
    throw new Error(`${op}: ${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return pair;
}

/** Options that are booleans. */
const FLAGS = new Set(['ceilMode', 'countIncludePad']);

/** The keys of PoolOptions, for poolOptions. */
export const POOL_OPTION_KEYS = ['kernelSize', 'stride', 'padding', 'ceilMode'] as const;

/**
 * The options argument of maxPool2d and avgPool2d: an object with the keys `allowed`, or a kernel size
 * alone (a number or a pair), as PyTorch's functional forms take kernel_size positionally:
 * `maxPool2d(x, 2)` is `maxPool2d(x, { kernelSize: 2 })`. Keys not in `allowed` are refused, since a
 * misspelt option (kernel_size, count_include_pad) would otherwise be ignored; so are flags that are not
 * booleans.
 */
export function poolOptions<O extends PoolOptions>(options: O | IntOrPair, op: string, allowed: readonly (keyof O & string)[]): O {
  if (isIntOrPair(options)) return { kernelSize: options } as O;
  const expected = `{ ${allowed.join(', ')} } or a kernel size (an integer or a pair of them)`;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(`${op}: options must be ${expected}, got ${JSON.stringify(options) ?? String(options)}`);
  }
  const unknown = Object.keys(options).filter((key) => !(allowed as readonly string[]).includes(key));
  if (unknown.length) throw new Error(`${op}: unknown option ${unknown.map((key) => `'${key}'`).join(', ')}; options are ${expected}`);
  for (const [key, value] of Object.entries(options)) {
    if (FLAGS.has(key) && value !== undefined && typeof value !== 'boolean') {
      throw new Error(`${op}: ${key} must be true or false, got ${JSON.stringify(value)}`);
    }
  }
  return options;
}

export function checkPoolInput(x: Tensor, op: string): void {
  expectFloat32(op, 'input', x);
  if (x.ndim !== 4 || x.shape.slice(1).some((d) => d === 0)) {
    throw new Error(`${op}: expected a 4-D input (N, C, H, W) with non-zero C, H, W, got shape [${x.shape}]`);
  }
}

/** PyTorch's pooling_output_shape: floor (or ceil) of (in + 2 pad - kernel) / stride, plus 1, where in
 *  ceil mode a window that would start inside the right padding is dropped. */
function outputSize(size: number, kernel: number, stride: number, pad: number, ceilMode: boolean): number {
  let out = Math.floor((size + 2 * pad - kernel + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + pad) out--;
  return out;
}

export function poolGeometry(x: Tensor, options: PoolOptions, op: string): PoolGeometry {
  checkPoolInput(x, op);
  const [kernelH, kernelW] = toPair(options.kernelSize, 'kernelSize', op, 1);
  const [strideH, strideW] = toPair(options.stride ?? options.kernelSize, 'stride', op, 1);
  const [padH, padW] = toPair(options.padding ?? 0, 'padding', op, 0);
  if (2 * padH > kernelH || 2 * padW > kernelW) {
    throw new Error(
      `${op}: padding should be at most half of the kernel size, got padding [${padH}, ${padW}] ` +
        `for kernelSize [${kernelH}, ${kernelW}]`,
    );
  }
  const [, channels, inH, inW] = x.shape;
  const ceilMode = options.ceilMode ?? false;
  const outH = outputSize(inH, kernelH, strideH, padH, ceilMode);
  const outW = outputSize(inW, kernelW, strideW, padW, ceilMode);
  if (outH < 1 || outW < 1) {
    throw new Error(
      `${op}: input [${x.shape}] gives output size ${channels}x${outH}x${outW}, which is too small ` +
        `(kernelSize [${kernelH}, ${kernelW}], stride [${strideH}, ${strideW}], padding [${padH}, ${padW}])`,
    );
  }
  return { inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW };
}
