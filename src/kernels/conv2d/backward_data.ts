/** conv2d backward wrt the input: a dedicated kernel that visits only the taps a strided
 *  convolution actually used (see shaders/conv2d/backward_data.wgsl). */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { outputShape, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning } from './tuning.js';
import source from '../../../shaders/conv2d/backward_data.wgsl';

const kernel = new Kernel('conv2d_backward_data', source);

// Must match TP in backward_data.wgsl.
const PIXELS = 8;

/** dx [N, C, H, W] from dy [N, O, OH, OW] and weight [O, C / groups, kH, kW]. */
export function backwardData(dy: Tensor, weight: Tensor, g: Conv2dGeometry): Tensor {
  const dx = empty([g.N, g.C, g.H, g.W], 'float32', 'conv2dBackwardData');
  const [sh, sw] = g.stride;
  const phaseRows = Math.ceil(g.H / sh);
  const phaseTiles = Math.ceil(Math.ceil(g.W / sw) / PIXELS);
  const tileCount = g.N * phaseRows * phaseTiles;
  const blocks = Math.ceil(g.Cg / 4);
  const wg = conv2dTuning().workgroupSize;
  dispatch(kernel, {
    workgroups: [...workgroups1d(Math.ceil(tileCount / wg)).slice(0, 2), sh * sw * g.groups * blocks],
    buffers: { dy, w: weight, dx },
    uniforms: {
      x_shape: [g.N, g.C, g.H, g.W],
      y_shape: outputShape(g),
      window: [g.kH, g.kW, g.Cg, g.Og],
      stride_pad: [sh, sw, g.padding[0], g.padding[1]],
      dilation: g.dilation,
      phase_grid: [phaseRows, phaseTiles],
      blocks_g: blocks,
      tile_count: tileCount,
    },
    constants: { WG: wg },
  });
  return dx;
}
