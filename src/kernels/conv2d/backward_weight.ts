/**
 * conv2d backward wrt the weight and the bias. Both reduce over N·OH·OW, far more terms than
 * outputs: the reduction is split into chunks computed in parallel (partial sums), then summed.
 * Two weight kernels: `tiles` (4×4 channels at one tap per invocation, output rows of one image per
 * step; shaders/conv2d/backward_weight.wgsl) and `rows` (16×4 channels at one tap, output pixels of all
 * images flattened; shaders/conv2d/backward_weight_rows.wgsl), for small maps; and `dense`, one
 * matmul over the whole map (dense.ts), forced only.
 */
import { Kernel, type Constants, type Uniforms } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { gpu } from '../../engine/device.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { windowUniforms, zWorkgroups, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning } from './tuning.js';
import type { BackwardVariant, WindowBackwardVariant } from './backward_data.js';
import { denseBackwardWeight } from './dense.js';
import weightSource from '../../../shaders/conv2d/backward_weight.wgsl';
import weightRowsSource from '../../../shaders/conv2d/backward_weight_rows.wgsl';
import reduceSource from '../../../shaders/conv2d/reduce_chunks.wgsl';
import biasSource from '../../../shaders/conv2d/bias_grad.wgsl';

// Tile shapes (COLS, OUT_CHANNELS, IN_CHANNELS) are the shaders' consts (Kernel.constant), not
// overrides: they size function-scope arrays, which WGSL allows only for const-expressions.
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

/** Whether the `rows` kernel's 4 vec4 lanes take 4 (channel, tap) columns rather than 4 channels at one
 *  tap (TAP_LANES): where a group has fewer than 4 input channels (the 1-channel stems), which would
 *  otherwise leave lanes idle. */
export function rowsTapLanes(g: Conv2dGeometry): boolean {
  return g.Cg < weightRowsKernel.constant('IN_CHANNELS');
}

/** The `rows` kernel's split: workgroups of `lanes` invocations over (input block, tap), and chunks of
 *  the N·OH·OW output pixels, enough of them to keep every core busy but each long enough to pay for
 *  its partial sums; `blocks` are the output and input channel blocks per group. */
export function weightGradRowsSplit(g: Conv2dGeometry, tapLanes = rowsTapLanes(g)): {
  lanes: number;
  workgroups: number;
  chunks: number;
  rows: number;
  blocks: [number, number];
} {
  const tuning = conv2dTuning();
  const inChannels = weightRowsKernel.constant('IN_CHANNELS');
  const blocks: [number, number] = [
    Math.ceil(g.Og / weightRowsKernel.constant('COLS')),
    tapLanes ? Math.ceil((g.Cg * g.kH * g.kW) / inChannels) : Math.ceil(g.Cg / inChannels),
  ];
  const columns = tapLanes ? blocks[1] : blocks[1] * g.kH * g.kW;
  const workgroups = Math.ceil(columns / tuning.weightGradRowsLanes);
  const lanes = Math.ceil(columns / workgroups / 8) * 8;
  const workgroupsPerChunk = workgroups * g.groups * blocks[0];
  const pixels = g.N * g.OH * g.OW;
  const size = g.O * g.Cg * g.kH * g.kW;
  const byMemory = Math.floor(gpu().limits.maxStorageBufferBindingSize / (4 * size));
  const wanted = Math.ceil(tuning.weightGradRowsWorkgroups / workgroupsPerChunk);
  const chunks = Math.max(
    1,
    Math.min(wanted, Math.ceil(pixels / tuning.weightGradRowsMinPixels), byMemory, Math.floor(65535 / workgroupsPerChunk)),
  );
  const rows = Math.ceil(pixels / chunks);
  return { lanes, workgroups, chunks: Math.ceil(pixels / rows), rows, blocks };
}

/** How a weight-gradient kernel covers one geometry: its grid, the chunks of the reduction (partial
 *  sums, one slice of `partial` each), and the uniforms and constants particular to the kernel. */
interface WeightGradLaunch {
  kernel: Kernel;
  workgroups: readonly number[];
  chunks: number;
  uniforms: Uniforms;
  constants: Constants;
}

const weightGradLaunches: Record<WindowBackwardVariant, (g: Conv2dGeometry, tapLanes: boolean) => WeightGradLaunch> = {
  tiles(g) {
    const blocks = [
      Math.ceil(g.Og / weightKernel.constant('OUT_CHANNELS')),
      Math.ceil(g.Cg / weightKernel.constant('IN_CHANNELS')),
    ];
    const blockCount = g.groups * blocks[0] * blocks[1] * g.kH * g.kW;
    const { chunks, rows } = weightGradChunks(g, blockCount);
    const wg = conv2dTuning().workgroupSize;
    return {
      kernel: weightKernel,
      workgroups: [...workgroups1d(Math.ceil(blockCount / wg)).slice(0, 2), chunks],
      chunks,
      uniforms: { blocks, blockCount, chunkRows: rows },
      constants: { WG: wg },
    };
  },
  rows(g, tapLanes) {
    const { lanes, workgroups, chunks, rows, blocks } = weightGradRowsSplit(g, tapLanes);
    return {
      kernel: weightRowsKernel,
      workgroups: [
        workgroups,
        1,
        zWorkgroups('conv2dBackwardWeight', g, { chunks, groups: g.groups, 'output-channel blocks per group': blocks[0] }),
      ],
      chunks,
      uniforms: { blocks, chunkRows: rows },
      constants: { WG: lanes, TAP_LANES: Number(tapLanes) },
    };
  },
};

/** dweight [O, C / groups, kH, kW] from x [N, C, H, W] and dy [N, O, OH, OW]; `tapLanes` (the `rows`
 *  kernel's lane layout, see rowsTapLanes) is the shape's choice unless a test forces it. */
export function backwardWeight(x: Tensor, dy: Tensor, g: Conv2dGeometry, variant: BackwardVariant, tapLanes = rowsTapLanes(g)): Tensor {
  if (variant === 'dense') return denseBackwardWeight(x, dy, g);
  const size = g.O * g.Cg * g.kH * g.kW;
  const dw = empty([g.O, g.Cg, g.kH, g.kW], 'float32', 'conv2dBackwardWeight');
  const { kernel, workgroups, chunks, uniforms, constants } = weightGradLaunches[variant](g, tapLanes);
  const partial = chunks === 1 ? dw : empty([chunks, size], 'float32', 'conv2dBackwardWeight partials');
  dispatch(kernel, {
    workgroups,
    buffers: { x, dy, partial },
    uniforms: { ...windowUniforms(g), dilation: g.dilation, ...uniforms },
    constants,
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
    uniforms: { planes: N * O, planeSize: OH * OW },
    constants: { WG: wg },
  });
  reduceChunks(partial, db, O, N);
  partial.dispose();
  return db;
}
