/**
 * conv2d as one dense product over the whole map, for maps so small that a window covers most of
 * them (the last ResNet stages of a 48-pixel face: 3x3, 2x3, 2x2, 1x2). The weight is laid out as
 * wd [C·H·W, O·OH·OW], each entry the weight of the tap linking an input pixel to an output pixel
 * (0 where none does; shaders/conv2d/dense_weight.wgsl); with x seen as [N, C·H·W] and y as
 * [N, O·OH·OW], both in place:
 *   forward          y   = x · wd
 *   backward data    dx  = dy · wdᵀ  (wdᵀ laid out as such: an untransposed operand reads faster)
 *   backward weight  dwd = xᵀ · dy, then each tap sums its pixels' entries (dense_weight_grad.wgsl).
 * The products run on the matmul kernel (src/kernels/matmul/gemm.ts). Where H·W is below the taps
 * the window kernels visit, this does fewer multiply-adds than they do (a 2x2 map under a 3x3
 * window: 4 per channel pair and output pixel where they do 9, 5 of them on padding; see
 * denseDoesLess). A variant to force (tests, bench/conv2d.ts --all-variants, the GPU kit's forced
 * runs), chosen by default nowhere: on lavapipe it did not make PCNN's step faster. Measured there
 * (bench/conv2d.ts --pcnn --all-variants, batch 64, 3x3 windows, three runs, ms per call): the weight
 * gradient 1.1-2.2x faster on 2x2 maps (64 → 64: 8.8 / 4.7 / 5.3 → 3.1 / 2.1 / 3.3; 128 → 128: 17.1 /
 * 19.2 / 14.5 → 10.7 / 12.5 / 13.0; no partial sums over chunks) and 1.1x on 1x2 maps; the forward and
 * backward data from 2x slower (1x2) to 1.2x faster (2x2); with groups (PCNN's paired 2x2 trunks, the
 * block-diagonal product's cross-group blocks wasted) all three passes 21 → 31 ms. A step with the
 * weight gradients dense where that does fewer multiply-adds took as long (bench/RESULTS.md, session
 * 9), and choosing it for ungrouped convolutions alone would break the paired trunks' bit-for-bit
 * equality with the trunks apart (src/pcnn/paired.ts).
 * With groups, wd is block-diagonal (a group's slice of a row of x is not a matrix row the matmul
 * kernel can read): the products do `groups` times the multiply-adds of all groups' products apart.
 * Any stride, padding, dilation, kernel size and groups; no fused epilogue (bias, residual, ReLU).
 */
import { Kernel } from '../../engine/kernel.js';
import { gpu } from '../../engine/device.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { gemm } from '../matmul/gemm.js';
import { batchPlan } from '../matmul/batch.js';
import { usedTaps, windowUniforms, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning } from './tuning.js';
import denseWeightSource from '../../../shaders/conv2d/dense_weight.wgsl';
import denseWeightGradSource from '../../../shaders/conv2d/dense_weight_grad.wgsl';

const denseWeightKernel = new Kernel('conv2d_dense_weight', denseWeightSource);
const denseWeightGradKernel = new Kernel('conv2d_dense_weight_grad', denseWeightGradSource);

/** Whether H·W is below the taps the window kernels visit per output pixel: fewer multiply-adds dense. */
export function denseDoesLess(g: Conv2dGeometry): boolean {
  const { lo, hi } = usedTaps(g);
  return g.H * g.W < (hi[0] - lo[0]) * (hi[1] - lo[1]);
}

/** `count` invocations, one per pair of an input and an output channel. */
function launch(kernel: Kernel, g: Conv2dGeometry, count: number, buffers: Record<string, Tensor>, constants = {}): void {
  const wg = conv2dTuning().workgroupSize;
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil(count / wg)),
    buffers,
    uniforms: { ...windowUniforms(g), dilation: g.dilation, count },
    constants: { WG: wg, ...constants },
  });
}

/** The shape of wd, [C·H·W, O·OH·OW], refused where one binding cannot hold it (a 56x56 map of 64
 *  channels: 200704² floats) rather than failing in the buffer pool with advice about the batch. */
function denseShape(op: string, g: Conv2dGeometry): [number, number] {
  const [rows, cols] = [g.C * g.H * g.W, g.O * g.OH * g.OW];
  const limit = gpu().limits.maxStorageBufferBindingSize;
  if (4 * rows * cols > limit) {
    throw new Error(
      `${op}: variant 'dense' lays the weight out as a ${rows}×${cols} matrix for input [${g.N},${g.C},${g.H},${g.W}] ` +
        `and weight [${g.O},${g.Cg},${g.kH},${g.kW}], ${(4 * rows * cols / 2 ** 20).toFixed(0)} MiB, more than the device's ` +
        `maxStorageBufferBindingSize (${(limit / 2 ** 20).toFixed(0)} MiB); it is meant for maps smaller than the window (use 'rows')`,
    );
  }
  return [rows, cols];
}

/** wd [C·H·W, O·OH·OW], or its transpose. */
function denseWeight(op: string, weight: Tensor, g: Conv2dGeometry, transposed: boolean): Tensor {
  const [rows, cols] = denseShape(op, g);
  const wd = empty(transposed ? [cols, rows] : [rows, cols], 'float32', 'conv2d dense weight');
  launch(denseWeightKernel, g, g.C * g.O, { w: weight, wd }, { TRANSPOSED: Number(transposed) });
  return wd;
}

/** One product: `a` [m, k] (stored [k, m] when transA) by `b` [k, n]. */
function product(op: string, a: Tensor, b: Tensor, m: number, n: number, k: number, transA: boolean, outShape: number[]): Tensor {
  return gemm(op, { a, b, transA, transB: false, m, n, k, batch: batchPlan([], [], [], [], m * k, k * n), outShape });
}

export function denseForward(x: Tensor, weight: Tensor, g: Conv2dGeometry): Tensor {
  const wd = denseWeight('conv2d', weight, g, false);
  const y = product('conv2d', x, wd, g.N, wd.shape[1], wd.shape[0], false, [g.N, g.O, g.OH, g.OW]);
  wd.dispose();
  return y;
}

export function denseBackwardData(dy: Tensor, weight: Tensor, g: Conv2dGeometry): Tensor {
  const wdT = denseWeight('conv2dBackwardData', weight, g, true);
  const dx = product('conv2dBackwardData', dy, wdT, g.N, wdT.shape[1], wdT.shape[0], false, [g.N, g.C, g.H, g.W]);
  wdT.dispose();
  return dx;
}

export function denseBackwardWeight(x: Tensor, dy: Tensor, g: Conv2dGeometry): Tensor {
  const [rows, cols] = denseShape('conv2dBackwardWeight', g);
  const dwd = product('conv2dBackwardWeight dense', x, dy, rows, cols, g.N, true, [rows, cols]);
  const dw = empty([g.O, g.Cg, g.kH, g.kW], 'float32', 'conv2dBackwardWeight');
  launch(denseWeightGradKernel, g, g.Cg * g.O, { dwd, dw });
  dwd.dispose();
  return dw;
}
