/** adaptiveAvgPool2d with PyTorch's bins [floor(i*in/out), ceil((i+1)*in/out)), and its backward. */
import { Kernel } from '../../engine/kernel.js';
import { dispatchPlanes } from './planes.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { checkPoolInput, toPair, type IntOrPair } from './window.js';
import forwardSource from '../../../shaders/pool/adaptive_avg_forward.wgsl';
import backwardSource from '../../../shaders/pool/adaptive_avg_backward.wgsl';

const forwardKernel = new Kernel('adaptive_avg_pool2d_forward', forwardSource);
const backwardKernel = new Kernel('adaptive_avg_pool2d_backward', backwardSource);

export function adaptiveAvgPool2d(x: Tensor, outputSize: IntOrPair): Tensor {
  checkPoolInput(x, 'adaptiveAvgPool2d');
  const [outH, outW] = toPair(outputSize, 'outputSize', 'adaptiveAvgPool2d', 1);
  const [n, c, inH, inW] = x.shape;
  const sizes = { inH, inW, outH, outW };
  const out = empty([n, c, outH, outW], 'float32', 'adaptiveAvgPool2d');
  dispatchPlanes(forwardKernel, n * c, [out.shape[2], out.shape[3]], {
    buffers: { x, out },
    uniforms: sizes,
  });
  return record(out, 'adaptiveAvgPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'adaptiveAvgPool2d grad input');
    dispatchPlanes(backwardKernel, n * c, [x.shape[2], x.shape[3]], {
      buffers: { dy, dx },
      uniforms: sizes,
    });
    return [dx];
  });
}
