/**
 * `dropout(x, { p, training, generator })`: torch.nn.functional.dropout. In training each element is
 * zeroed with probability p and the others scaled by 1 / (1 - p); otherwise x itself. The mask is a hash
 * of a seed drawn from `generator` (default the default generator) once per call and of the element's
 * index (shaders/elementwise/dropout.wgsl), so the backward recomputes it instead of storing it:
 * a seeded generator makes a call reproducible, and the backward of a call is the same kernel on the
 * gradient with the call's seed.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { defaultGenerator, type Generator } from '../../engine/random.js';
import { expectFloat32 } from '../checks.js';
import source from '../../../shaders/elementwise/dropout.wgsl';

const kernel = new Kernel('dropout', source);

export interface DropoutOptions {
  /** Probability of an element to be zeroed, in [0, 1] (0.5 as PyTorch's). */
  p?: number;
  /** Whether to drop (true, as F.dropout's default); false returns x. */
  training?: boolean;
  generator?: Generator;
}

/**
 * The two numbers every hashed-dropout kernel (this one, attention's, GAT's) compares and scales by: an
 * element is kept when the top `bits` bits of its hash are at least `threshold` = round(p * 2^bits), and
 * scaled by `keepScale` = 1 / (1 - p) (0 for p = 1, where nothing is kept).
 */
export function dropoutThreshold(p: number, bits: number): { threshold: number; keepScale: number } {
  return { threshold: Math.round(p * 2 ** bits), keepScale: p < 1 ? 1 / (1 - p) : 0 };
}

function masked(x: Tensor, seed: number, p: number): Tensor {
  const out = empty(x.shape, 'float32', 'dropout');
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil(x.size / (4 * kernel.workgroupInvocations))),
    buffers: { x, out },
    uniforms: { count: x.size, seed, ...dropoutThreshold(p, kernel.constant('DROPOUT_BITS')) },
  });
  return out;
}

export function dropout(x: Tensor, { p = 0.5, training = true, generator = defaultGenerator }: DropoutOptions = {}): Tensor {
  expectFloat32('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be a probability in [0, 1], got ${String(p)}`);
  if (!training || p === 0 || x.size === 0) return x;
  const seed = generator.nextUint32();
  return record(masked(x, seed, p), 'dropout', [x], (grad) => [masked(grad, seed, p)]);
}
