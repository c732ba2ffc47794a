/** avgPool2d (PyTorch's avg_pool2d without divisor_override) and its gather-form backward. */
import { Kernel } from '../../engine/kernel.js';
import { dispatchPlanes } from './planes.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { POOL_OPTION_KEYS, poolGeometry, poolOptions, type IntOrPair, type PoolOptions } from './window.js';
import forwardSource from '../../../shaders/pool/avg_forward.wgsl';
import backwardSource from '../../../shaders/pool/avg_backward.wgsl';

const forwardKernel = new Kernel('avg_pool2d_forward', forwardSource);
const backwardKernel = new Kernel('avg_pool2d_backward', backwardSource);

export interface AvgPool2dOptions extends PoolOptions {
  /** Divide by the window size including padding (default true), else by its in-bounds elements. */
  countIncludePad?: boolean;
}

/** `options` may be the kernel size alone (see poolOptions). */
export function avgPool2d(x: Tensor, optionsOrKernelSize: AvgPool2dOptions | IntOrPair): Tensor {
  const options = poolOptions(optionsOrKernelSize, 'avgPool2d', [...POOL_OPTION_KEYS, 'countIncludePad']);
  const geometry = poolGeometry(x, options, 'avgPool2d');
  const constants = { COUNT_INCLUDE_PAD: (options.countIncludePad ?? true) ? 1 : 0 };
  const [n, c] = x.shape;
  const out = empty([n, c, geometry.outH, geometry.outW], 'float32', 'avgPool2d');
  dispatchPlanes(forwardKernel, n * c, [out.shape[2], out.shape[3]], {
    buffers: { x, out },
    uniforms: geometry,
    constants,
  });
  return record(out, 'avgPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'avgPool2d grad input');
    dispatchPlanes(backwardKernel, n * c, [x.shape[2], x.shape[3]], {
      buffers: { dy, dx },
      uniforms: geometry,
      constants,
    });
    return [dx];
  });
}
