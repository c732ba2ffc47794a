/** avgPool2d (PyTorch's avg_pool2d without divisor_override) and its gather-form backward. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { poolGeometry, type PoolOptions } from './window.js';
import forwardSource from '../../../shaders/pool/avg_forward.wgsl';
import backwardSource from '../../../shaders/pool/avg_backward.wgsl';

const forwardKernel = new Kernel('avg_pool2d_forward', forwardSource);
const backwardKernel = new Kernel('avg_pool2d_backward', backwardSource);

export interface AvgPool2dOptions extends PoolOptions {
  /** Divide by the window size including padding (default true), else by its in-bounds elements. */
  countIncludePad?: boolean;
}

export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const geometry = poolGeometry(x, options, 'avgPool2d');
  const constants = { COUNT_INCLUDE_PAD: (options.countIncludePad ?? true) ? 1 : 0 };
  const [n, c] = x.shape;
  const out = empty([n, c, geometry.outH, geometry.outW], 'float32', 'avgPool2d');
  dispatch(forwardKernel, {
    workgroups: workgroups1d(Math.ceil(out.size / 256)),
    buffers: { x, out },
    uniforms: { count: out.size, ...geometry },
    constants,
  });
  return record(out, 'avgPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'avgPool2d grad input');
    dispatch(backwardKernel, {
      workgroups: workgroups1d(Math.ceil(dx.size / 256)),
      buffers: { dy, dx },
      uniforms: { count: dx.size, ...geometry },
      constants,
    });
    return [dx];
  });
}
