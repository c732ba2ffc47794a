/**
 * `affineGrid`: sampling grids from batches of 2x3 affine matrices, as torch.nn.functional.affine_grid
 * (2-D), with the gradient wrt theta (shaders/resample/affine_grid.wgsl).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import source from '../../../shaders/resample/affine_grid.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('affine_grid_forward', source, 'forward');
const backwardKernel = new Kernel('affine_grid_backward', source, 'backward');

/** theta [N, 2, 3] and size [N, C, H, W] → grid [N, H, W, 2] of normalised (x, y) source positions. */
export function affineGrid(
  theta: Tensor,
  size: readonly number[],
  { alignCorners = false }: { alignCorners?: boolean } = {},
): Tensor {
  if (theta.ndim !== 3 || theta.shape[1] !== 2 || theta.shape[2] !== 3) {
    throw new Error(`affineGrid: expected theta of shape [N, 2, 3], got [${theta.shape}]`);
  }
  expectFloat32('affineGrid', 'theta', theta);
  if (size.length !== 4 || size.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`affineGrid: expected size [N, C, H, W] of positive integers, got [${size}]`);
  }
  const [n, , h, w] = size;
  if (n !== theta.shape[0]) {
    throw new Error(`affineGrid: size [${size}] has batch ${n} but theta [${theta.shape}] has batch ${theta.shape[0]}`);
  }
  const uniforms = { batch: n, height: h, width: w, alignCorners: alignCorners ? 1 : 0 };
  const grid = empty([n, h, w, 2], 'float32', 'affineGrid');
  dispatch(forwardKernel, {
    workgroups: workgroups1d(Math.ceil((n * h * w) / forwardKernel.workgroupInvocations)),
    buffers: { source: theta, result: grid },
    uniforms,
  });
  return record(grid, 'affineGrid', [theta], (grad) => {
    const dtheta = empty(theta.shape, 'float32', 'affineGrid backward');
    dispatch(backwardKernel, {
      workgroups: workgroups1d(Math.ceil((2 * n) / backwardKernel.workgroupInvocations)),
      buffers: { source: grad, result: dtheta },
      uniforms,
    });
    return [dtheta];
  });
}
