/** Column sums of a [rows, cols] matrix: the gradient of a bias added to every row. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import source from '../../../shaders/matmul/sum_rows.wgsl';

const kernel = new Kernel('matmul_sum_rows', source);

/** out[n] = Σ_i g[i, n] for g holding rows·cols elements; out has shape `outShape` (cols elements). */
export function sumRows(g: Tensor, rows: number, cols: number, outShape: readonly number[]): Tensor {
  const out = empty(outShape, 'float32', 'linear bias gradient');
  dispatch(kernel, { workgroups: workgroups1d(Math.ceil(cols / kernel.workgroupInvocations)), buffers: { g, out }, uniforms: { rows, cols } });
  return out;
}
