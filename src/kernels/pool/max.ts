/** maxPool2d: forward keeps the int32 index of each window's first maximum; backward gathers by it. */
import { Kernel } from '../../engine/kernel.js';
import { dispatchPlanes } from './planes.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { POOL_OPTION_KEYS, poolGeometry, poolOptions, type IntOrPair, type PoolOptions } from './window.js';
import forwardSource from '../../../shaders/pool/max_forward.wgsl';
import backwardSource from '../../../shaders/pool/max_backward.wgsl';

const forwardKernel = new Kernel('max_pool2d_forward', forwardSource);
const backwardKernel = new Kernel('max_pool2d_backward', backwardSource);

export type MaxPool2dOptions = PoolOptions;

/** `options` may be the kernel size alone (see poolOptions). */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions | IntOrPair): Tensor {
  const geometry = poolGeometry(x, poolOptions(options, 'maxPool2d', POOL_OPTION_KEYS), 'maxPool2d');
  const [n, c] = x.shape;
  const out = empty([n, c, geometry.outH, geometry.outW], 'float32', 'maxPool2d');
  const indices = empty(out.shape, 'int32', 'maxPool2d indices');
  dispatchPlanes(forwardKernel, n * c, [out.shape[2], out.shape[3]], {
    buffers: { x, out, indices },
    uniforms: geometry,
  });
  return record(out, 'maxPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'maxPool2d grad input');
    dispatchPlanes(backwardKernel, n * c, [x.shape[2], x.shape[3]], {
      buffers: { dy, indices, dx },
      uniforms: geometry,
    });
    return [dx];
  }, [indices]);
}
