/**
 * conv2d backward wrt the input. Two kernels, both visiting only the taps a strided convolution
 * actually used (input pixels split into stride phases):
 * - `tiles`: 4 channels × 8 pixels of one input row per invocation (shaders/conv2d/backward_data.wgsl);
 * - `rows`: input pixels of all images flattened into GEMM rows, 4 rows × 16 channels per invocation
 *   (shaders/conv2d/backward_data_rows.wgsl), for small maps whose rows would leave `tiles` idle;
 * and `dense`, one matmul over the whole map (dense.ts), forced only.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { usedTaps, windowUniforms, zWorkgroups, type ChannelBlockLaunch, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning, fittedWorkgroupSize } from './tuning.js';
import { denseBackwardData } from './dense.js';
import tilesSource from '../../../shaders/conv2d/backward_data.wgsl';
import rowsSource from '../../../shaders/conv2d/backward_data_rows.wgsl';

// Tile shapes (TP, ROWS, COLS, CHANNELS) are the shaders' consts (Kernel.constant), not overrides:
// they size function-scope arrays, which WGSL allows only for const-expressions.
const tilesKernel = new Kernel('conv2d_backward_data', tilesSource);
const rowsKernel = new Kernel('conv2d_backward_data_rows', rowsSource);

export type BackwardVariant = 'tiles' | 'rows' | 'dense';
/** The backward variants with a windowed kernel of their own (both gradients have one each). */
export type WindowBackwardVariant = Exclude<BackwardVariant, 'dense'>;

/** Both kernels cover one stride phase at a time: `phaseRows` × `phaseCols` input pixels per image. */
interface BackwardDataKernel {
  kernel: Kernel;
  launch(g: Conv2dGeometry, phaseRows: number, phaseCols: number): ChannelBlockLaunch;
}

const backwardDataKernels: Record<WindowBackwardVariant, BackwardDataKernel> = {
  tiles: {
    kernel: tilesKernel,
    launch(g, phaseRows, phaseCols) {
      const phaseTiles = Math.ceil(phaseCols / tilesKernel.constant('TP'));
      const tileCount = g.N * phaseRows * phaseTiles;
      return {
        invocations: tileCount,
        blocksPerGroup: Math.ceil(g.Cg / tilesKernel.constant('CHANNELS')),
        uniforms: { phaseGrid: [phaseRows, phaseTiles], tileCount },
      };
    },
  },
  rows: {
    kernel: rowsKernel,
    launch(g, phaseRows, phaseCols) {
      const rows = g.N * phaseRows * phaseCols;
      const taps = usedTaps(g);
      return {
        invocations: Math.ceil(rows / rowsKernel.constant('ROWS')),
        blocksPerGroup: Math.ceil(g.Cg / rowsKernel.constant('COLS')),
        uniforms: { phaseGrid: [phaseRows, phaseCols], tapLo: taps.lo, tapHi: taps.hi, rows },
      };
    },
  },
};

/** dx [N, C, H, W] from dy [N, O, OH, OW] and weight [O, C / groups, kH, kW]. */
export function backwardData(dy: Tensor, weight: Tensor, g: Conv2dGeometry, variant: BackwardVariant): Tensor {
  if (variant === 'dense') return denseBackwardData(dy, weight, g);
  const dx = empty([g.N, g.C, g.H, g.W], 'float32', 'conv2dBackwardData');
  const [sh, sw] = g.stride;
  const { kernel, launch } = backwardDataKernels[variant];
  const { invocations, blocksPerGroup, uniforms } = launch(g, Math.ceil(g.H / sh), Math.ceil(g.W / sw));
  const wg = fittedWorkgroupSize(invocations);
  dispatch(kernel, {
    workgroups: [
      ...workgroups1d(Math.ceil(invocations / wg)).slice(0, 2),
      zWorkgroups('conv2dBackwardData', g, {
        'stride phases': sh * sw,
        groups: g.groups,
        'channel blocks per group': blocksPerGroup,
      }),
    ],
    buffers: { dy, w: weight, dx },
    uniforms: { ...windowUniforms(g), dilation: g.dilation, ...uniforms, blocksPerGroup },
    constants: { WG: wg },
  });
  return dx;
}
