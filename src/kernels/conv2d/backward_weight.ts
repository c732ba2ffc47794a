/**
 * conv2d backward wrt the weight and the bias. Both reduce over N·OH·OW, far more terms than
 * outputs: the reduction is split into chunks computed in parallel (partial sums), then summed.
 * Two weight kernels: `tiles` (4×4 channels at one tap per invocation, output rows of one image per
 * step; shaders/conv2d/backward_weight.wgsl) and `rows` (16×4 channels at one tap, output pixels of all
 * images flattened; shaders/conv2d/backward_weight_rows.wgsl), for small maps.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { gpu } from '../../engine/device.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { windowUniforms, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning } from './tuning.js';
import { SHARED_LANES } from '../subgroups.js';
import type { BackwardVariant } from './backward_data.js';
import weightSource from '../../../shaders/conv2d/backward_weight.wgsl';
import weightRowsSource from '../../../shaders/conv2d/backward_weight_rows.wgsl';
import reduceSource from '../../../shaders/conv2d/reduce_chunks.wgsl';
import biasSource from '../../../shaders/conv2d/bias_grad.wgsl';

const weightKernel = new Kernel('conv2d_backward_weight', weightSource);
const weightRowsKernel = new Kernel('conv2d_backward_weight_rows', weightRowsSource);
const reduceKernel = new Kernel('conv2d_reduce_chunks', reduceSource);
const biasKernel = new Kernel('conv2d_bias_grad', biasSource);

/** out[i] = Σ_s partial[s·size + i]. */
function reduceChunks(partial: Tensor, out: Tensor, size: number, chunks: number): void {
  const wg = conv2dTuning().workgroupSize;
  dispatch(reduceKernel, {
    workgroups: workgroups1d(Math.ceil(size / 4 / wg)),
    buffers: { partial, out },
    uniforms: { size, chunks },
    constants: { WG: wg },
  });
}

/** How many chunks the N·OH output rows are split into, and the rows of each. */
export function weightGradChunks(g: Conv2dGeometry, blockCount: number): { chunks: number; rows: number } {
  const tuning = conv2dTuning();
  const rows = g.N * g.OH;
  const size = g.O * g.Cg * g.kH * g.kW;
  const byMemory = Math.floor(gpu().limits.maxStorageBufferBindingSize / (4 * size));
  const wanted = Math.ceil(tuning.weightGradInvocations / blockCount);
  const chunks = Math.max(1, Math.min(wanted, Math.ceil(rows / tuning.weightGradMinRows), byMemory, 65535));
  const chunkRows = Math.ceil(rows / chunks);
  return { chunks: Math.ceil(rows / chunkRows), rows: chunkRows };
}

// Must match COLS in backward_weight_rows.wgsl (two groups of SHARED_LANES).
const ROWS_COLS = 2 * SHARED_LANES;

/** The `rows` kernel's split: workgroups of `lanes` invocations over (input block, tap), and chunks of
 *  the N·OH·OW output pixels, enough of them to keep every core busy but each long enough to pay for
 *  its partial sums. */
export function weightGradRowsSplit(g: Conv2dGeometry): { lanes: number; workgroups: number; chunks: number; rows: number } {
  const tuning = conv2dTuning();
  const columns = Math.ceil(g.Cg / 4) * g.kH * g.kW;
  const workgroups = Math.ceil(columns / tuning.weightGradRowsLanes);
  const lanes = Math.ceil(columns / workgroups / 8) * 8;
  const blocks = workgroups * g.groups * Math.ceil(g.Og / ROWS_COLS);
  const pixels = g.N * g.OH * g.OW;
  const size = g.O * g.Cg * g.kH * g.kW;
  const byMemory = Math.floor(gpu().limits.maxStorageBufferBindingSize / (4 * size));
  const wanted = Math.ceil(tuning.weightGradRowsWorkgroups / blocks);
  const chunks = Math.max(1, Math.min(wanted, Math.ceil(pixels / tuning.weightGradRowsMinPixels), byMemory, Math.floor(65535 / blocks)));
  const rows = Math.ceil(pixels / chunks);
  return { lanes, workgroups, chunks: Math.ceil(pixels / rows), rows };
}

/** dweight [O, C / groups, kH, kW] from x [N, C, H, W] and dy [N, O, OH, OW]. */
export function backwardWeight(x: Tensor, dy: Tensor, g: Conv2dGeometry, variant: BackwardVariant): Tensor {
  const size = g.O * g.Cg * g.kH * g.kW;
  const dw = empty([g.O, g.Cg, g.kH, g.kW], 'float32', 'conv2dBackwardWeight');
  if (variant === 'rows') {
    const { lanes, workgroups, chunks, rows } = weightGradRowsSplit(g);
    const partial = chunks === 1 ? dw : empty([chunks, size], 'float32', 'conv2dBackwardWeight partials');
    const blocks = [Math.ceil(g.Og / ROWS_COLS), Math.ceil(g.Cg / 4)];
    dispatch(weightRowsKernel, {
      workgroups: [workgroups, 1, chunks * g.groups * blocks[0]],
      buffers: { x, dy, partial },
      uniforms: {
        ...windowUniforms(g),
        dilation: g.dilation,
        blocks,
        chunk_rows: rows,
      },
      constants: { WG: lanes },
    });
    if (partial !== dw) {
      reduceChunks(partial, dw, size, chunks);
      partial.dispose();
    }
    return dw;
  }
  const blocks = [Math.ceil(g.Og / 4), Math.ceil(g.Cg / 4)];
  const blockCount = g.groups * blocks[0] * blocks[1] * g.kH * g.kW;
  const { chunks, rows } = weightGradChunks(g, blockCount);
  const partial = chunks === 1 ? dw : empty([chunks, size], 'float32', 'conv2dBackwardWeight partials');
  const wg = conv2dTuning().workgroupSize;
  dispatch(weightKernel, {
    workgroups: [...workgroups1d(Math.ceil(blockCount / wg)).slice(0, 2), chunks],
    buffers: { x, dy, partial },
    uniforms: {
      ...windowUniforms(g),
      dilation: g.dilation,
      blocks,
      block_count: blockCount,
      chunk_rows: rows,
    },
    constants: { WG: wg },
  });
  if (partial !== dw) {
    reduceChunks(partial, dw, size, chunks);
    partial.dispose();
  }
  return dw;
}

/** dbias [O] = Σ_{n, oh, ow} dy[n, o, oh, ow]. */
export function backwardBias(dy: Tensor): Tensor {
  if (dy.ndim !== 4) throw new Error(`conv2dBackwardBias: expected a 4-D gradient (N, O, OH, OW), got [${dy.shape}]`);
  const [N, O, OH, OW] = dy.shape;
  const db = empty([O], 'float32', 'conv2dBackwardBias');
  const partial = empty([N, O], 'float32', 'conv2dBackwardBias partials');
  const wg = conv2dTuning().workgroupSize;
  dispatch(biasKernel, {
    workgroups: workgroups1d(Math.ceil((N * O) / wg)),
    buffers: { dy, partial },
    uniforms: { planes: N * O, plane_size: OH * OW },
    constants: { WG: wg },
  });
  reduceChunks(partial, db, O, N);
  partial.dispose();
  return db;
}
