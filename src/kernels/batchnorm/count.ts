import { Kernel } from '../../engine/kernel.js';
import { dispatch } from '../../engine/recorder.js';
import type { Tensor } from '../../engine/tensor.js';
import countSource from '../../../shaders/batchnorm/count_batch.wgsl';

const countKernel = new Kernel('batchnorm_count_batch', countSource);

/** count += 1 in place, for BatchNorm2d's int32 num_batches_tracked (exact, and kept on the GPU so that
 *  a state dict loaded through any parent module is counted on from). */
export function incrementBatchCount(count: Tensor): void {
  if (count.dtype !== 'int32' || count.size !== 1) {
    throw new Error(`incrementBatchCount: expected a one-element int32 tensor, got ${count.dtype} [${count.shape}]`);
  }
  dispatch(countKernel, { workgroups: [1], buffers: { count } });
}
