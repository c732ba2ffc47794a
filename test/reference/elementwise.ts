// Float64 references for elementwise ops: PyTorch's definitions, applied with broadcasting.
import { broadcastRead, broadcastShape, numel, unravel } from './shape.js';

export function binaryRef(
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  f: (x: number, y: number) => number,
): Float64Array {
  const shape = broadcastShape(aShape, bShape);
  return Float64Array.from({ length: numel(shape) }, (_, i) => {
    const index = unravel(i, shape);
    return f(broadcastRead(a, aShape, index), broadcastRead(b, bShape, index));
  });
}

export const unaryRefs: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
};
