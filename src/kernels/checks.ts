/** Argument checks every op family shares, so that each failure reads the same wherever it happens. */
import { Tensor } from '../engine/tensor.js';

/** Throws unless `value` is a float32 tensor, naming the op, the argument and what it got instead. */
export function expectFloat32(op: string, name: string, value: unknown): asserts value is Tensor {
  if (value instanceof Tensor && value.dtype === 'float32') return;
  const got = value instanceof Tensor ? `${value.dtype} of shape [${value.shape}]` : `${String(value)}, which is not a Tensor`;
  throw new Error(`${op}: ${name} must be a float32 tensor, got ${got}`);
}
