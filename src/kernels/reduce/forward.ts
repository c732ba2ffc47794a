/**
 * Reduction kernels and their planning: which axes to reduce, merged layouts, and the choice between
 * the workgroup tree over contiguous rows, a split into partial results for long reductions with few
 * outputs, and the general one-invocation-per-output kernel. No autograd here.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { coalesce, dimsUniform } from '../shape/layout.js';
import generalSource from '../../../shaders/reduce/reduce.wgsl';
import rowsSource from '../../../shaders/reduce/reduce_rows.wgsl';
import maxBackwardSource from '../../../shaders/reduce/max_backward.wgsl';

const general = new Kernel('reduce', generalSource);
const rows = new Kernel('reduce_rows', rowsSource);
const maxBackwardKernel = new Kernel('max_backward', maxBackwardSource);

/** The reductions of reduce.wgsl and reduce_rows.wgsl, by the names of their `const` codes. */
export type ReductionOp = 'SUM' | 'MAX';

/** Below this many outputs, a reduction of at least SPLIT_MIN_LENGTH elements is split into partials
 *  so that enough invocations run. */
const SPLIT_MAX_OUTPUTS = 4096;
const SPLIT_MIN_LENGTH = 1024;
const SPLIT_CHUNK_MIN = 256;

/**
 * Reduces the dimensions of `x` flagged in `reduced` with `code`, multiplies by `scale`, and returns the
 * result (kept dimensions in order) with shape `outShape`, whose element count must match.
 */
export function reduce(x: Tensor, reduced: readonly boolean[], code: ReductionOp, scale: number, outShape: readonly number[], op: string): Tensor {
  const kept = coalesce(
    x.shape.filter((_, d) => !reduced[d]),
    [x.strides.filter((_, d) => !reduced[d])],
  );
  const red = coalesce(
    x.shape.filter((_, d) => reduced[d]),
    [x.strides.filter((_, d) => reduced[d])],
  );
  const outCount = kept.shape.reduce((p, s) => p * s, 1);
  const length = red.shape.reduce((p, s) => p * s, 1);
  if (outCount === 0) return empty(outShape, 'float32', op);

  const rowsContiguous =
    red.shape.length === 1 && red.strides[0][0] === 1 && (kept.shape.length === 0 || (kept.shape.length === 1 && kept.strides[0][0] === length));
  // reduce_rows.wgsl gives each invocation of a row's workgroup at least one element.
  if (rowsContiguous && length >= rows.workgroupInvocations && (outCount >= 8 || length <= 16 * SPLIT_MIN_LENGTH)) {
    const out = empty(outShape, 'float32', op);
    dispatch(rows, {
      workgroups: workgroups1d(outCount),
      buffers: { x, out },
      uniforms: { rows: outCount, rowLength: length, scale },
      constants: { OP: rows.constant(code) },
    });
    return out;
  }
  let chunks = 1;
  if (outCount < SPLIT_MAX_OUTPUTS && length >= SPLIT_MIN_LENGTH) {
    chunks = Math.min(Math.ceil(SPLIT_MAX_OUTPUTS / outCount), Math.ceil(length / SPLIT_CHUNK_MIN));
  }
  const target = empty(chunks === 1 ? outShape : [outCount, chunks], 'float32', op);
  const chunkSize = Math.ceil(length / chunks);
  dispatch(general, {
    workgroups: workgroups1d(Math.ceil((outCount * chunks) / general.workgroupInvocations)),
    buffers: { x, out: target },
    uniforms: {
      outCount,
      chunks,
      chunkSize,
      reduceCount: length,
      keptNdim: kept.shape.length,
      reducedNdim: red.shape.length,
      scale: chunks === 1 ? scale : 1,
      keptShape: dimsUniform(kept.shape, op),
      keptStrides: dimsUniform(kept.strides[0], op),
      reducedShape: dimsUniform(red.shape, op),
      reducedStrides: dimsUniform(red.strides[0], op),
    },
    constants: { OP: general.constant(code) },
  });
  if (chunks === 1) return target;
  const result = reduce(target, [false, true], code, scale, outShape, op);
  target.dispose();
  return result;
}

/** Gradient of max over one dimension of `x`, seen as [outer, size, inner]: the first maximal index
 *  along it gets `grad`, the others 0. */
export function maxBackward(x: Tensor, grad: Tensor, size: number, inner: number): Tensor {
  const outCount = x.size / size;
  const dx = empty(x.shape, 'float32', 'max backward');
  dispatch(maxBackwardKernel, {
    workgroups: workgroups1d(Math.ceil(outCount / maxBackwardKernel.workgroupInvocations)),
    buffers: { x, grad, dx },
    uniforms: { outCount, size, inner },
  });
  return dx;
}
