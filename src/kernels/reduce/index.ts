/**
 * Reductions with PyTorch's semantics: sum, mean and max over any set of dimensions (negative
 * dimensions wrap; an empty list means all, as in PyTorch 1.13), keepdim, and sumToShape, the
 * reduction broadcasting ops use in their backward.
 */
import { record } from '../../engine/autograd.js';
import { tidy } from '../../engine/scope.js';
import type { Tensor } from '../../engine/tensor.js';
import { elementwise } from '../elementwise/forward.js';
import { broadcastsTo, normalizeDim } from '../shape/layout.js';
import { broadcastTo } from '../shape/strided_copy.js';
import { maxBackward, reduce } from './forward.js';
import { expectFloat32 } from '../checks.js';

/** Per dimension of `x`, whether `dim` reduces it. A 0-D tensor takes dim 0 or -1 (and reduces nothing). */
function reducedDims(x: Tensor, dim: number | readonly number[] | undefined, op: string): boolean[] {
  expectFloat32(op, 'input', x);
  const mask = x.shape.map(() => dim === undefined || (Array.isArray(dim) && dim.length === 0));
  for (const d of typeof dim === 'number' ? [dim] : (dim ?? [])) {
    const n = normalizeDim(d, Math.max(x.ndim, 1), op);
    if (x.ndim === 0) continue;
    if (mask[n]) throw new Error(`${op}: dimension ${d} appears more than once in the list of dimensions [${dim}]`);
    mask[n] = true;
  }
  return mask;
}

function resultShape(x: Tensor, reduced: readonly boolean[], keepdim: boolean): number[] {
  return keepdim ? x.shape.map((s, d) => (reduced[d] ? 1 : s)) : x.shape.filter((_, d) => !reduced[d]);
}

function reducedCount(x: Tensor, reduced: readonly boolean[]): number {
  return x.shape.reduce((p, s, d) => (reduced[d] ? p * s : p), 1);
}

/** `grad` (of a reduction's result) spread back over `x`'s shape, times `scale`. */
function spread(grad: Tensor, x: Tensor, reduced: readonly boolean[], scale: number, op: string): Tensor {
  return tidy(() => {
    const kept = grad.view(x.shape.map((s, d) => (reduced[d] ? 1 : s)));
    return broadcastTo(scale === 1 ? kept : elementwise('MUL', kept, scale, op), x.shape, op);
  });
}

/** Sum over `dim` (all dimensions when omitted), like torch.sum. */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const reduced = reducedDims(x, dim, 'sum');
  const out = reduce(x, reduced, 'SUM', 1, resultShape(x, reduced, keepdim), 'sum');
  return record(out, 'sum', [x], (grad) => [spread(grad, x, reduced, 1, 'sum backward')]);
}

/** Mean over `dim` (all dimensions when omitted), like torch.mean. Reducing over 0 elements is an error
 *  here (PyTorch returns NaN). */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const reduced = reducedDims(x, dim, 'mean');
  const count = reducedCount(x, reduced);
  if (count === 0) throw new Error(`mean: reduces over 0 elements (shape [${x.shape}], dim ${JSON.stringify(dim)}); expected at least one`);
  const out = reduce(x, reduced, 'SUM', 1 / count, resultShape(x, reduced, keepdim), 'mean');
  return record(out, 'mean', [x], (grad) => [spread(grad, x, reduced, 1 / count, 'mean backward')]);
}

/**
 * Maximum values, like torch.max: over all elements when `dim` is omitted, else over one dimension
 * (values only; the indices torch.max(x, dim) also returns are not produced).
 * Gradient: over one dimension it all goes to the first maximal index (the index torch.max returns);
 * over all elements it is split evenly among the maximal elements (torch.max() and torch.amax since 1.7).
 */
export function max(x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim !== undefined && typeof dim !== 'number') {
    throw new Error(`max: dim must be one dimension (as in torch.max), got ${JSON.stringify(dim)}`);
  }
  const reduced = reducedDims(x, dim, 'max');
  if (reducedCount(x, reduced) === 0) {
    throw new Error(`max: reduces over 0 elements (shape [${x.shape}], dim ${dim}); expected at least one`);
  }
  const out = reduce(x, reduced, 'MAX', 1, resultShape(x, reduced, keepdim), 'max');
  if (dim === undefined) {
    return record(out, 'max', [x], (grad) => [
      tidy(() => {
        const mask = elementwise('EQ', x, out, 'max backward');
        const ties = reduce(mask, reduced, 'SUM', 1, out.shape, 'max backward');
        return elementwise('MUL', mask, elementwise('DIV', grad, ties, 'max backward'), 'max backward');
      }),
    ]);
  }
  const at = reduced.indexOf(true);
  const size = at < 0 ? 1 : x.shape[at];
  const inner = at < 0 ? 1 : x.strides[at];
  return record(out, 'max', [x], (grad) => [maxBackward(x, grad, size, inner)]);
}

/**
 * `grad` summed over the dimensions along which `shape` was broadcast to `grad`'s shape (leading extra
 * dimensions, and dimensions where `shape` has 1): the gradient of a broadcast operand.
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  if (!broadcastsTo(shape, grad.shape)) {
    throw new Error(`sumToShape: a gradient of shape [${grad.shape}] cannot be summed to shape [${shape}], which does not broadcast to it`);
  }
  const lead = grad.ndim - shape.length;
  const reduced = grad.shape.map((s, d) => d < lead || (shape[d - lead] === 1 && s !== 1));
  if (!reduced.includes(true)) {
    return record(grad.view(shape), 'sumToShape', [grad], (g) => [g.view(grad.shape)]);
  }
  const out = reduce(grad, reduced, 'SUM', 1, shape, 'sumToShape');
  return record(out, 'sumToShape', [grad], (g) => [broadcastTo(g, grad.shape, 'sumToShape backward')]);
}
