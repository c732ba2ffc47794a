/** adaptiveAvgPool2d with PyTorch's bins [floor(i*in/out), ceil((i+1)*in/out)), and its backward. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
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
  dispatch(forwardKernel, {
    workgroups: workgroups1d(Math.ceil(out.size / 256)),
    buffers: { x, out },
    uniforms: { count: out.size, ...sizes },
  });
  return record(out, 'adaptiveAvgPool2d', [x], (dy) => {
    const dx = empty(x.shape, 'float32', 'adaptiveAvgPool2d grad input');
    dispatch(backwardKernel, {
      workgroups: workgroups1d(Math.ceil(dx.size / 256)),
      buffers: { dy, dx },
      uniforms: { count: dx.size, ...sizes },
    });
    return [dx];
  });
}
