/**
 * Batch dimensions of a batched matrix product, as the kernels read them: the product runs over a
 * grid of output batch elements `z` (workgroup_id.z) and, for each, sums over `r`, the batch
 * dimensions that the output does not have. The forward product has nothing to sum (its output has
 * the full broadcast batch shape); the gradient of an operand that was broadcast over a batch
 * dimension sums over it, inside the kernel, without materialising the unreduced gradient.
 */

/** The kernels decompose batch indices over four dimensions. */
export const MAX_BATCH_DIMS = 4;

export interface BatchPlan {
  /** Output batch elements (the z workgroups) and summed index count R. */
  count: number;
  reduced: number;
  zShape: number[];
  zStrideA: number[];
  zStrideB: number[];
  rShape: number[];
  rStrideA: number[];
  rStrideB: number[];
}

function pad(shape: readonly number[]): number[] {
  return [...new Array<number>(MAX_BATCH_DIMS - shape.length).fill(1), ...shape];
}

/** Element strides of each padded batch dimension of an operand, 0 where it has size 1 (broadcast). */
function operandStrides(shape: readonly number[], matrixSize: number): number[] {
  const padded = pad(shape);
  const strides = new Array<number>(MAX_BATCH_DIMS).fill(0);
  let stride = matrixSize;
  for (let d = MAX_BATCH_DIMS - 1; d >= 0; d--) {
    if (padded[d] !== 1) strides[d] = stride;
    stride *= padded[d];
  }
  return strides;
}

/**
 * The plan for a product whose operands have batch shapes `aBatch` and `bBatch` (broadcasting to
 * `full`), each batch element a matrix of `aMatrix` and `bMatrix` elements, and whose output has batch
 * shape `target`: `full` itself, or `full` with some dimensions summed away (kept with size 1, or
 * dropped from the front).
 */
export function batchPlan(
  target: readonly number[],
  full: readonly number[],
  aBatch: readonly number[],
  bBatch: readonly number[],
  aMatrix: number,
  bMatrix: number,
): BatchPlan {
  const t = pad(target);
  const f = pad(full);
  const strideA = operandStrides(aBatch, aMatrix);
  const strideB = operandStrides(bBatch, bMatrix);
  const plan: BatchPlan = {
    count: 1,
    reduced: 1,
    zShape: [],
    zStrideA: [],
    zStrideB: [],
    rShape: [],
    rStrideA: [],
    rStrideB: [],
  };
  for (let d = 0; d < MAX_BATCH_DIMS; d++) {
    const summed = t[d] !== f[d];
    plan.zShape.push(summed ? 1 : f[d]);
    plan.zStrideA.push(summed ? 0 : strideA[d]);
    plan.zStrideB.push(summed ? 0 : strideB[d]);
    plan.rShape.push(summed ? f[d] : 1);
    plan.rStrideA.push(summed ? strideA[d] : 0);
    plan.rStrideB.push(summed ? strideB[d] : 0);
    plan.count *= plan.zShape[d];
    plan.reduced *= plan.rShape[d];
  }
  return plan;
}
