/**
 * Matrix products: `matmul` (torch.matmul) and `linear` (torch.nn.functional.linear), with their
 * backward rules. Gradients use the transposed-operand variants of the same kernels (no transposes
 * are materialised), and the bias gradient is a column sum.
 */
import { record } from '../../engine/autograd.js';
import type { Tensor } from '../../engine/tensor.js';
import { batchPlan, MAX_BATCH_DIMS } from './batch.js';
import { broadcastShapes } from '../shape/layout.js';
import { gemm } from './gemm.js';
import { sumRows } from './sum_rows.js';
import { expectFloat32 } from '../checks.js';

export { matmulTuning, setMatmulTuning, type MatmulTuning, type MatmulVariant } from './tuning.js';

/**
 * torch.matmul: for N-D operands, a batched matrix product over the last two dimensions with the
 * leading (batch) dimensions broadcast; a 1-D first operand is a row vector and a 1-D second operand a
 * column vector, whose dimension is removed from the result.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  expectFloat32('matmul', 'a', a);
  expectFloat32('matmul', 'b', b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: both operands need at least one dimension, got shapes [${a.shape}] and [${b.shape}]`);
  }
  const [m, k] = a.ndim === 1 ? [1, a.shape[0]] : a.shape.slice(-2);
  const [kb, n] = b.ndim === 1 ? [b.shape[0], 1] : b.shape.slice(-2);
  if (k !== kb) {
    throw new Error(
      `matmul: shapes [${a.shape}] and [${b.shape}] cannot be multiplied ` +
        `(a has ${k} columns, b has ${kb} rows; they must be equal)`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const full = broadcastShapes(aBatch, bBatch, 'matmul', `batch dimensions [${aBatch}] of a [${a.shape}] and [${bBatch}] of b [${b.shape}]`);
  if (full.length > MAX_BATCH_DIMS) {
    throw new Error(`matmul: at most ${MAX_BATCH_DIMS} batch dimensions are supported, got [${full}] from [${a.shape}] and [${b.shape}]`);
  }
  const outShape = [...full, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  const out = gemm('matmul', {
    a,
    b,
    transA: false,
    transB: false,
    m,
    n,
    k,
    batch: batchPlan(full, full, aBatch, bBatch, m * k, k * n),
    outShape,
  });
  return record(out, 'matmul', [a, b], (grad) => [
    // dA = dC · Bᵀ, summed over the batch dimensions a was broadcast along.
    a.requiresGrad
      ? gemm('matmul backward (a)', {
          a: grad,
          b,
          transA: false,
          transB: true,
          m,
          n: k,
          k: n,
          batch: batchPlan(aBatch, full, full, bBatch, m * n, k * n),
          outShape: a.shape,
        })
      : null,
    // dB = Aᵀ · dC, likewise summed for b.
    b.requiresGrad
      ? gemm('matmul backward (b)', {
          a,
          b: grad,
          transA: true,
          transB: false,
          m: k,
          n,
          k: m,
          batch: batchPlan(bBatch, full, aBatch, full, m * k, m * n),
          outShape: b.shape,
        })
      : null,
  ]);
}

/** torch.nn.functional.linear: x · weightᵀ + bias, for x [..., in], weight [out, in], bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  expectFloat32('linear', 'x', x);
  expectFloat32('linear', 'weight', weight);
  if (bias) expectFloat32('linear', 'bias', bias);
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D [out, in], got shape [${weight.shape}]`);
  const [outFeatures, inFeatures] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inFeatures) {
    throw new Error(`linear: input of shape [${x.shape}] must end in in_features = ${inFeatures} (weight [${weight.shape}])`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias must have shape [${outFeatures}] (weight [${weight.shape}]), got [${bias.shape}]`);
  }
  const rows = x.size / inFeatures || 0;
  const single = batchPlan([], [], [], [], 0, 0);
  const out = gemm('linear', {
    a: x,
    b: weight,
    transA: false,
    transB: true,
    m: rows,
    n: outFeatures,
    k: inFeatures,
    batch: single,
    bias,
    outShape: [...x.shape.slice(0, -1), outFeatures],
  });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'linear', inputs, (grad) => {
    const grads = [
      // dX = dY · W
      x.requiresGrad
        ? gemm('linear backward (x)', { a: grad, b: weight, transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, batch: single, outShape: x.shape })
        : null,
      // dW = dYᵀ · X
      weight.requiresGrad
        ? gemm('linear backward (weight)', { a: grad, b: x, transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, batch: single, outShape: weight.shape })
        : null,
    ];
    if (bias) grads.push(bias.requiresGrad ? sumRows(grad, rows, outFeatures, bias.shape) : null);
    return grads;
  });
}
