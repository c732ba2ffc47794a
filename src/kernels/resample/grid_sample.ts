/**
 * `gridSample`: bilinear sampling of [N, C, H, W] maps at grid positions, as
 * torch.nn.functional.grid_sample (2-D, mode 'bilinear', padding 'zeros' or 'border'), with the
 * gradients wrt the input and wrt the grid (shaders/resample/grid_sample_*.wgsl).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import forwardSource from '../../../shaders/resample/grid_sample_forward.wgsl';
import backwardInputSource from '../../../shaders/resample/grid_sample_backward_input.wgsl';
import backwardGridSource from '../../../shaders/resample/grid_sample_backward_grid.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('grid_sample_forward', forwardSource);
const backwardInputKernel = new Kernel('grid_sample_backward_input', backwardInputSource);
const backwardGridKernel = new Kernel('grid_sample_backward_grid', backwardGridSource);

export interface GridSampleOptions {
  mode?: 'bilinear';
  paddingMode?: 'zeros' | 'border';
  alignCorners?: boolean;
}

/** x [N, C, H, W] sampled at grid [N, Ho, Wo, 2] (normalised (x, y) in [-1, 1]) → [N, C, Ho, Wo]. */
export function gridSample(x: Tensor, grid: Tensor, options: GridSampleOptions = {}): Tensor {
  const op = 'gridSample';
  const { mode = 'bilinear', paddingMode = 'zeros', alignCorners = false } = options;
  if (x.ndim !== 4) throw new Error(`${op}: expected a 4-D input (N, C, H, W), got shape [${x.shape}]`);
  if (grid.ndim !== 4 || grid.shape[3] !== 2 || grid.shape[0] !== x.shape[0]) {
    throw new Error(`${op}: expected grid of shape [${x.shape[0]}, Ho, Wo, 2] for input [${x.shape}], got [${grid.shape}]`);
  }
  expectFloat32(op, 'input', x);
  expectFloat32(op, 'grid', grid);
  if (mode !== 'bilinear') throw new Error(`${op}: mode '${mode}' is not supported; expected 'bilinear'`);
  if (paddingMode !== 'zeros' && paddingMode !== 'border') {
    throw new Error(`${op}: paddingMode '${paddingMode}' is not supported; expected 'zeros' or 'border'`);
  }
  const [n, c, h, w] = x.shape;
  const [, ho, wo] = grid.shape;
  if (h < 1 || w < 1) throw new Error(`${op}: input spatial size must be positive, got shape [${x.shape}]`);
  const uniforms = {
    batch: n,
    channels: c,
    inH: h,
    inW: w,
    outH: ho,
    outW: wo,
    alignCorners: alignCorners ? 1 : 0,
    border: paddingMode === 'border' ? 1 : 0,
  };
  const out = empty([n, c, ho, wo], 'float32', op);
  dispatch(forwardKernel, { workgroups: workgroups1d(Math.ceil(out.size / forwardKernel.workgroupInvocations)), buffers: { x, grid, out }, uniforms });
  return record(out, op, [x, grid], (upstream) => {
    let dx: Tensor | null = null;
    let dgrid: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(x.shape, 'float32', `${op} backward input`);
      dispatch(backwardInputKernel, { workgroups: workgroups1d(Math.ceil((n * c) / backwardInputKernel.workgroupInvocations)), buffers: { grid, upstream, dx }, uniforms });
    }
    if (grid.requiresGrad) {
      dgrid = empty(grid.shape, 'float32', `${op} backward grid`);
      dispatch(backwardGridKernel, {
        workgroups: workgroups1d(Math.ceil((n * ho * wo) / backwardGridKernel.workgroupInvocations)),
        buffers: { x, grid, upstream, dgrid },
        uniforms,
      });
    }
    return [dx, dgrid];
  });
}
