/**
 * Strided copies between tensors: the one kernel behind permute, narrow, expand, cat and pad. A copy
 * whose source and target both reduce to a few contiguous runs (cat or narrow along an outer dimension)
 * goes through copyBufferToBuffer, one command per run, which is several times faster than any shader
 * copy on CPU adapters (22 GB/s against 4).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, recorder, workgroups1d } from '../../engine/recorder.js';
import { contiguousStrides, empty, numel, type Tensor } from '../../engine/tensor.js';
import { coalesce, dimsUniform } from './layout.js';
import source from '../../../shaders/shape/strided_copy.wgsl';
import { expectFloat32 } from '../checks.js';

const kernel = new Kernel('strided_copy', source);

/** Most contiguous runs copied with one copyBufferToBuffer each rather than the kernel. */
const MAX_BUFFER_COPIES = 64;

/** Where a copy reads or writes: an element offset and one stride per dimension of the copied shape. */
export interface Region {
  offset: number;
  strides: readonly number[];
}

/** Copies the elements of `shape` from `x` at `from` into `out` at `to`. */
export function copyStrided(x: Tensor, from: Region, out: Tensor, to: Region, shape: readonly number[], op: string): void {
  expectFloat32(op, 'input', x);
  const count = numel(shape);
  if (count === 0) return;
  const walk = coalesce(shape, [from.strides, to.strides]);
  const [inStrides, outStrides] = walk.strides;
  const ndim = walk.shape.length;
  const innerRuns = ndim === 0 || (inStrides[ndim - 1] === 1 && outStrides[ndim - 1] === 1);
  if (innerRuns && ndim <= 2 && (ndim < 2 || walk.shape[0] <= MAX_BUFFER_COPIES)) {
    const runs = ndim === 2 ? walk.shape[0] : 1;
    const length = count / runs;
    for (let r = 0; r < runs; r++) {
      const source = from.offset + r * (ndim === 2 ? inStrides[0] : 0);
      const target = to.offset + r * (ndim === 2 ? outStrides[0] : 0);
      recorder.copy(x.buffer, x.byteOffset + source * 4, out.buffer, out.byteOffset + target * 4, length * 4);
    }
    return;
  }
  dispatch(kernel, {
    // Four elements per invocation.
    workgroups: workgroups1d(Math.ceil(count / (4 * kernel.workgroupInvocations))),
    buffers: { x, out },
    uniforms: {
      count,
      ndim: walk.shape.length,
      inOffset: from.offset,
      outOffset: to.offset,
      shape: dimsUniform(walk.shape, op),
      inStrides: dimsUniform(inStrides, op),
      outStrides: dimsUniform(outStrides, op),
    },
  });
}

/** Strides that read `inputShape` (aligned to the right of `shape`) as if broadcast to `shape`:
 *  0 along new leading dimensions and along dimensions of size 1 that `shape` stretches. */
export function broadcastStrides(inputShape: readonly number[], shape: readonly number[]): number[] {
  const lead = shape.length - inputShape.length;
  const own = contiguousStrides(inputShape);
  return shape.map((size, d) => (d < lead || (inputShape[d - lead] === 1 && size !== 1) ? 0 : own[d - lead]));
}

/** A new contiguous tensor holding `x` broadcast to `shape` (the caller checked compatibility). */
export function broadcastTo(x: Tensor, shape: readonly number[], op: string): Tensor {
  const out = empty(shape, 'float32', op);
  copyStrided(x, { offset: 0, strides: broadcastStrides(x.shape, shape) }, out, { offset: 0, strides: out.strides }, shape, op);
  return out;
}
