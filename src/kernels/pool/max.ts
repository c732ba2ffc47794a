/** maxPool2d: forward keeps the int32 index of each window's first maximum; backward gathers by it. */
import { Kernel } from '../../engine/kernel.js';
import { dispatchPlanes } from './planes.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { POOL_OPTION_KEYS, poolGeometry, poolOptions, type IntOrPair, type PoolGeometry, type PoolOptions } from './window.js';
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
  const constants = geometryConstants(geometry);
  dispatchPlanes(forwardKernel, n * c, [out.shape[2], out.shape[3]], { buffers: { x, out, indices }, constants });
  return record(out, 'maxPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'maxPool2d grad input');
    dispatchPlanes(backwardKernel, n * c, [x.shape[2], x.shape[3]], { buffers: { dy, indices, dx }, constants });
    return [dx];
  }, [indices]);
}

/** The window geometry as the shaders' override constants: a pipeline per geometry, whose divisions by
 *  them compile to multiplications (by a uniform, lavapipe divides lane by lane: backward 1.5x slower). */
function geometryConstants(g: PoolGeometry): Record<string, number> {
  return {
    IN_H: g.inH, IN_W: g.inW, OUT_H: g.outH, OUT_W: g.outW, KERNEL_H: g.kernelH, KERNEL_W: g.kernelW,
    STRIDE_H: g.strideH, STRIDE_W: g.strideW, PAD_H: g.padH, PAD_W: g.padW,
  };
}
