/**
 * softmax and logSoftmax along any dimension, as torch.softmax / torch.log_softmax: max-subtracted
 * (no overflow for large inputs), differentiable. Forward and backward each take one dispatch.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, numel, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import forwardSource from '../../../shaders/softmax/softmax_forward.wgsl';
import backwardSource from '../../../shaders/softmax/softmax_backward.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('softmax_forward', forwardSource);
const backwardKernel = new Kernel('softmax_backward', backwardSource);

/** The most lanes a row may have: they all sit in one workgroup, of the forward and of the backward kernel. */
const WORKGROUP = Math.min(forwardKernel.workgroupInvocations, backwardKernel.workgroupInvocations);
/** Elements a lane should own before a row is worth splitting across more lanes (and barriers):
 *  barriers are dear on CPU adapters (lavapipe), measured best at 64 per lane for rows of 1000-4096. */
const ELEMENTS_PER_LANE = 64;

/** The tensor viewed as [outer, size, inner] around `dim`, and the lanes per row for that length. */
interface RowLayout {
  rows: number;
  size: number;
  inner: number;
  threadsPerRow: number;
}

function rowLayout(x: Tensor, dim: number, op: string): RowLayout {
  expectFloat32(op, 'input', x);
  const ndim = Math.max(x.ndim, 1);
  if (!Number.isInteger(dim) || dim < -ndim || dim >= ndim) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of shape [${x.shape}] (expected ${-ndim}..${ndim - 1})`);
  }
  // A 0-d tensor is one row of one element, as in PyTorch (which accepts dim 0 or -1 for it).
  const shape = x.ndim ? x.shape : [1];
  const d = dim < 0 ? dim + ndim : dim;
  const size = shape[d];
  const inner = numel(shape.slice(d + 1));
  const rows = size === 0 ? 0 : x.size / size;
  // Strided rows (inner > 1) with one lane each already read memory in step (neighbouring invocations
  // take neighbouring rows, hence neighbouring addresses) and need no barrier: 2-3x faster on lavapipe
  // for a channel softmax over [N, C, H, W], as long as there are rows to fill the workgroups.
  let threadsPerRow = 1;
  if (inner === 1 || rows < WORKGROUP) {
    while (threadsPerRow < WORKGROUP && threadsPerRow * ELEMENTS_PER_LANE < size) threadsPerRow *= 2;
  }
  return { rows, size, inner, threadsPerRow };
}

function dispatchRows(kernel: Kernel, layout: RowLayout, log: boolean, buffers: Record<string, Tensor>): void {
  const { rows, size, inner, threadsPerRow } = layout;
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil((rows * threadsPerRow) / kernel.workgroupInvocations)),
    buffers,
    uniforms: { rows, size, inner },
    constants: { THREADS_PER_ROW: threadsPerRow, LOG: log ? 1 : 0 },
  });
}

function softmaxOp(x: Tensor, dim: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const layout = rowLayout(x, dim, op);
  const out = empty(x.shape, 'float32', op);
  dispatchRows(forwardKernel, layout, log, { x, out });
  return record(out, op, [x], (grad) => {
    const gx = empty(x.shape, 'float32', `${op} backward`);
    dispatchRows(backwardKernel, layout, log, { y: out, g: grad, gx });
    return [gx];
  });
}

/** exp(x) / sum(exp(x)) along `dim` (negative counts from the end). */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOp(x, dim, false);
}

/** x - log(sum(exp(x))) along `dim` (negative counts from the end); more accurate than log(softmax). */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxOp(x, dim, true);
}
