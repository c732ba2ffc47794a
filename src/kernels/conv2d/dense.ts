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
 * window: 4 per channel pair and output pixel where they do 9, 5 of them on padding), at the rate of
 * a matmul, which maps this small keep those kernels from (see preferDense).
 * With groups, wd is block-diagonal (a group's slice of a row of x is not a matrix row the matmul
 * kernel can read): `groups` times the multiply-adds of one group's product. Any stride, padding,
 * dilation, kernel size and groups; no fused epilogue (bias, residual, ReLU).
 */
import { Kernel } from '../../engine/kernel.js';
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

/** Images the matmul kernel's row block holds on CPU adapters (matmul/registers.wgsl's ROWS): fewer
 *  leave the forward's and backward data's products mostly idle. */
const MIN_BATCH = 16;

/**
 * Where the tuning takes the dense products: a full row block of images, no groups, and fewer
 * multiply-adds than the window kernels, H·W against the taps they visit per output pixel. Measured on
 * lavapipe (bench/conv2d.ts --pcnn --all-variants, batch 64, 2x2 maps, forward + both gradients): 10.4
 * → 8.0 ms at 64 channels, 44 → 36 ms at 128 (the weight gradient 2x, the forward and backward data
 * within ±25% either way); at as many multiply-adds (a 3x3 map under a 3x3 window) no faster; with
 * groups 2 (PCNN's paired trunks, 8 multiply-adds for the window kernels' 9) 21 → 31 ms, slower.
 */
export function preferDense(g: Conv2dGeometry, tuning = conv2dTuning()): boolean {
  const { lo, hi } = usedTaps(g);
  const taps = (hi[0] - lo[0]) * (hi[1] - lo[1]);
  return tuning.denseMaps && g.N >= MIN_BATCH && g.groups === 1 && g.H * g.W < taps;
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

/** wd [C·H·W, O·OH·OW], or its transpose. */
function denseWeight(weight: Tensor, g: Conv2dGeometry, transposed: boolean): Tensor {
  const [rows, cols] = [g.C * g.H * g.W, g.O * g.OH * g.OW];
  const wd = empty(transposed ? [cols, rows] : [rows, cols], 'float32', 'conv2d dense weight');
  launch(denseWeightKernel, g, g.C * g.O, { w: weight, wd }, { TRANSPOSED: Number(transposed) });
  return wd;
}

/** One product: `a` [m, k] (stored [k, m] when transA) by `b` [k, n]. */
function product(op: string, a: Tensor, b: Tensor, m: number, n: number, k: number, transA: boolean, outShape: number[]): Tensor {
  return gemm(op, { a, b, transA, transB: false, m, n, k, batch: batchPlan([], [], [], [], m * k, k * n), outShape });
}

export function denseForward(x: Tensor, weight: Tensor, g: Conv2dGeometry): Tensor {
  const wd = denseWeight(weight, g, false);
  const y = product('conv2d', x, wd, g.N, wd.shape[1], wd.shape[0], false, [g.N, g.O, g.OH, g.OW]);
  wd.dispose();
  return y;
}

export function denseBackwardData(dy: Tensor, weight: Tensor, g: Conv2dGeometry): Tensor {
  const wdT = denseWeight(weight, g, true);
  const dx = product('conv2dBackwardData', dy, wdT, g.N, wdT.shape[1], wdT.shape[0], false, [g.N, g.C, g.H, g.W]);
  wdT.dispose();
  return dx;
}

export function denseBackwardWeight(x: Tensor, dy: Tensor, g: Conv2dGeometry): Tensor {
  const rows = g.C * g.H * g.W;
  const cols = g.O * g.OH * g.OW;
  const dwd = product('conv2dBackwardWeight', x, dy, rows, cols, g.N, true, [rows, cols]);
  const dw = empty([g.O, g.Cg, g.kH, g.kW], 'float32', 'conv2dBackwardWeight');
  launch(denseWeightGradKernel, g, g.Cg * g.O, { dwd, dw });
  dwd.dispose();
  return dw;
}
