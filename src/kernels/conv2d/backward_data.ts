/**
 * conv2d backward wrt the input. Two kernels, both visiting only the taps a strided convolution
 * actually used (input pixels split into stride phases):
 * - `tiles`: 4 channels × 8 pixels of one input row per invocation (shaders/conv2d/backward_data.wgsl);
 * - `rows`: input pixels of all images flattened into GEMM rows, 4 rows × 16 channels per invocation
 *   (shaders/conv2d/backward_data_rows.wgsl), for small maps whose rows would leave `tiles` idle.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { usedTaps, windowUniforms, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning } from './tuning.js';
import { SHARED_LANES } from '../subgroups.js';
import tilesSource from '../../../shaders/conv2d/backward_data.wgsl';
import rowsSource from '../../../shaders/conv2d/backward_data_rows.wgsl';

const tilesKernel = new Kernel('conv2d_backward_data', tilesSource);
const rowsKernel = new Kernel('conv2d_backward_data_rows', rowsSource);

export type BackwardVariant = 'tiles' | 'rows';

// Must match TP in backward_data.wgsl.
const PIXELS = 8;
// Must match ROWS and COLS (two groups of SHARED_LANES) in backward_data_rows.wgsl.
const ROWS_PER_INVOCATION = 4;
const COLS = 2 * SHARED_LANES;

/** dx [N, C, H, W] from dy [N, O, OH, OW] and weight [O, C / groups, kH, kW]. */
export function backwardData(dy: Tensor, weight: Tensor, g: Conv2dGeometry, variant: BackwardVariant): Tensor {
  const dx = empty([g.N, g.C, g.H, g.W], 'float32', 'conv2dBackwardData');
  const [sh, sw] = g.stride;
  const phaseRows = Math.ceil(g.H / sh);
  const phaseCols = Math.ceil(g.W / sw);
  const wg = conv2dTuning().workgroupSize;
  const common = { ...windowUniforms(g), dilation: g.dilation };
  if (variant === 'rows') {
    const rows = g.N * phaseRows * phaseCols;
    const blocks = Math.ceil(g.Cg / COLS);
    const taps = usedTaps(g);
    dispatch(rowsKernel, {
      workgroups: [...workgroups1d(Math.ceil(rows / ROWS_PER_INVOCATION / wg)).slice(0, 2), sh * sw * g.groups * blocks],
      buffers: { dy, w: weight, dx },
      uniforms: { ...common, phase_grid: [phaseRows, phaseCols], tap_lo: taps.lo, tap_hi: taps.hi, rows, blocks_g: blocks },
      constants: { WG: wg },
    });
    return dx;
  }
  const phaseTiles = Math.ceil(phaseCols / PIXELS);
  const tileCount = g.N * phaseRows * phaseTiles;
  const blocks = Math.ceil(g.Cg / 4);
  dispatch(tilesKernel, {
    workgroups: [...workgroups1d(Math.ceil(tileCount / wg)).slice(0, 2), sh * sw * g.groups * blocks],
    buffers: { dy, w: weight, dx },
    uniforms: { ...common, phase_grid: [phaseRows, phaseTiles], blocks_g: blocks, tile_count: tileCount },
    constants: { WG: wg },
  });
  return dx;
}
