/**
 * One batched product on the GPU with the kernel the adapter's tuning picks (see tuning.ts): operands
 * read in place, transposed or not, bias fused into the store, and broadcast batch dimensions summed
 * inside the kernel (see batch.ts).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { gpu } from '../../engine/device.js';
import type { BatchPlan } from './batch.js';
import { matmulTuning, type MatmulVariant } from './tuning.js';
import registersSource from '../../../shaders/matmul/registers.wgsl';
import tiledSource from '../../../shaders/matmul/tiled.wgsl';

const kernels = {
  registers: new Kernel('matmul_registers', registersSource),
  tiled: new Kernel('matmul_tiled', tiledSource),
};
/** Output rows and columns one invocation of the variant's kernel computes. */
function block(variant: MatmulVariant): [number, number] {
  const kernel = kernels[variant];
  return variant === 'registers' ? [kernel.constant('ROWS'), kernel.constant('COLS')] : [kernel.constant('BLOCK'), kernel.constant('BLOCK')];
}

export interface Gemm {
  /** A is stored [M, K] per batch element, or [K, M] when transA; B [K, N], or [N, K] when transB. */
  a: Tensor;
  b: Tensor;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  batch: BatchPlan;
  /** Added to every row of the output ([N]). */
  bias?: Tensor | null;
  /** The output's shape: batch.count · M · N elements. */
  outShape: readonly number[];
}

export function gemm(op: string, g: Gemm): Tensor {
  const out = empty(g.outShape, 'float32', op);
  if (out.size === 0) return out;
  const { variant, workgroup } = matmulTuning();
  const [rows, cols] = block(variant);
  const workgroups = [Math.ceil(g.n / (cols * workgroup[0])), Math.ceil(g.m / (rows * workgroup[1])), g.batch.count];
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > limit)) {
    throw new Error(
      `${op}: ${g.batch.count} batch elements of ${g.m}×${g.n} need workgroups [${workgroups}], ` +
        `more than ${limit} along one dimension; split the batch`,
    );
  }
  dispatch(kernels[variant], {
    workgroups,
    // Without a bias, `a` stands in for the unused binding (read-only, so binding it twice is valid).
    buffers: { a: g.a, b: g.b, bias: g.bias ?? g.a, out },
    uniforms: {
      dims: [g.m, g.n, g.k, g.batch.reduced],
      zShape: g.batch.zShape,
      zStrideA: g.batch.zStrideA,
      zStrideB: g.batch.zStrideB,
      rShape: g.batch.rShape,
      rStrideA: g.batch.rStrideA,
      rStrideB: g.batch.rStrideB,
    },
    constants: {
      TRANS_A: Number(g.transA),
      TRANS_B: Number(g.transB),
      HAS_BIAS: Number(!!g.bias),
      ...(variant === 'registers' ? { WG: workgroup[0] } : { WG_X: workgroup[0], WG_Y: workgroup[1] }),
    },
  });
  return out;
}
