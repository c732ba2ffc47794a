/**
 * Differentiable shape ops with PyTorch's semantics. reshape and flatten are views (shared storage);
 * permute, transpose, narrow, cat, pad and expand write new contiguous tensors through one strided-copy
 * kernel (or copyBufferToBuffer where the copy is one contiguous run).
 */
import { record } from '../../engine/autograd.js';
import { contiguousStrides, empty, full, type Tensor } from '../../engine/tensor.js';
import { sumToShape } from '../reduce/index.js';
import { broadcastsTo, normalizeDim } from './layout.js';
import { broadcastTo, copyStrided } from './strided_copy.js';

/** A view with another shape (one -1 is inferred), like torch.reshape on a contiguous tensor. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return record(x.view(shape), 'reshape', [x], (grad) => [grad.view(x.shape)]);
}

/** Dimensions startDim..endDim merged into one (a view). The default startDim = 1 is nn.Flatten's
 *  (torch.flatten's is 0); a 0-D tensor becomes 1-D, as in torch.flatten. */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const start = normalizeDim(startDim, x.ndim, 'flatten');
  const end = normalizeDim(endDim, x.ndim, 'flatten');
  if (start > end) {
    throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for a tensor of shape [${x.shape}]`);
  }
  const merged = x.shape.slice(start, end + 1).reduce((p, s) => p * s, 1);
  return reshape(x, [...x.shape.slice(0, start), merged, ...x.shape.slice(end + 1)]);
}

/** The dimensions of `x` reordered: result dimension i is input dimension dims[i], like torch.permute. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const order = dims.map((d) => normalizeDim(d, x.ndim, 'permute'));
  if (order.length !== x.ndim || new Set(order).size !== order.length) {
    throw new Error(`permute: dims [${dims}] are not a permutation of the ${x.ndim} dimensions of shape [${x.shape}]`);
  }
  const shape = order.map((d) => x.shape[d]);
  const out = empty(shape, 'float32', 'permute');
  copyStrided(x, { offset: 0, strides: order.map((d) => x.strides[d]) }, out, { offset: 0, strides: out.strides }, shape, 'permute');
  const inverse = order.map((_, i) => order.indexOf(i));
  return record(out, 'permute', [x], (grad) => [permute(grad, inverse)]);
}

/** `x` with dimensions dim0 and dim1 swapped, like torch.transpose. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const d0 = normalizeDim(dim0, x.ndim, 'transpose');
  const d1 = normalizeDim(dim1, x.ndim, 'transpose');
  const order = x.shape.map((_, d) => (d === d0 ? d1 : d === d1 ? d0 : d));
  return permute(x, order);
}

/** Elements start..start+length-1 along `dim` (a negative start counts from the end), like torch.narrow. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normalizeDim(dim, x.ndim, 'narrow');
  const size = x.shape[d];
  const first = Number.isInteger(start) && start < 0 ? start + size : start;
  if (!Number.isInteger(start) || !Number.isInteger(length) || first < 0 || length < 0 || first + length > size) {
    throw new Error(
      `narrow: start ${start} and length ${length} do not fit dimension ${dim} of size ${size} (shape [${x.shape}]); ` +
        `expected integers with -${size} <= start <= ${size} and start + length <= ${size}`,
    );
  }
  const shape = x.shape.map((s, i) => (i === d ? length : s));
  const out = empty(shape, 'float32', 'narrow');
  copyStrided(x, { offset: first * x.strides[d], strides: x.strides }, out, { offset: 0, strides: out.strides }, shape, 'narrow');
  const pads = sidePads(x.ndim, d, first, size - first - length);
  return record(out, 'narrow', [x], (grad) => [pad(grad, pads)]);
}

/** F.pad pairs (last dimension first) that add `before` and `after` elements around dimension `dim`. */
function sidePads(ndim: number, dim: number, before: number, after: number): number[] {
  const pads = new Array<number>(2 * (ndim - dim)).fill(0);
  pads[pads.length - 2] = before;
  pads[pads.length - 1] = after;
  return pads;
}

/** The tensors joined along `dim`, like torch.cat: every other dimension must match. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('cat: expected a non-empty list of tensors');
  const first = tensors[0];
  const d = normalizeDim(dim, first.ndim, 'cat');
  tensors.forEach((t, k) => {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(
        `cat: tensor ${k} has shape [${t.shape}], tensor 0 has shape [${first.shape}]; ` +
          `all sizes must match except along dimension ${dim}`,
      );
    }
  });
  const shape = first.shape.map((s, i) => (i === d ? tensors.reduce((sum, t) => sum + t.shape[d], 0) : s));
  const out = empty(shape, 'float32', 'cat');
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    copyStrided(t, { offset: 0, strides: t.strides }, out, { offset: at * out.strides[d], strides: out.strides }, t.shape, 'cat');
    at += t.shape[d];
  }
  return record(out, 'cat', tensors, (grad) =>
    tensors.map((t, k) => (t.requiresGrad ? narrow(grad, d, starts[k], t.shape[d]) : null)),
  );
}

/**
 * Constant padding like F.pad(x, pads, value=value): pads = [left, right] for the last dimension, then
 * [top, bottom] for the one before, and so on. Negative pads crop, as in PyTorch.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length > 2 * x.ndim || pads.some((p) => !Number.isInteger(p))) {
    throw new Error(
      `pad: pads [${pads}] for a tensor of shape [${x.shape}]; expected an even number of integers, at most ${2 * x.ndim}`,
    );
  }
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let i = 0; i < pads.length / 2; i++) {
    before[x.ndim - 1 - i] = pads[2 * i];
    after[x.ndim - 1 - i] = pads[2 * i + 1];
  }
  const shape = x.shape.map((s, d) => s + before[d] + after[d]);
  if (shape.some((s) => s < 0)) {
    throw new Error(`pad: pads [${pads}] crop the shape [${x.shape}] to [${shape}], which has a negative size`);
  }
  // The part of x that survives the cropping of negative pads, and where it lands in the output.
  const skip = before.map((b) => Math.max(0, -b));
  const kept = x.shape.map((s, d) => Math.max(0, s - skip[d] - Math.max(0, -after[d])));
  const out = kept.reduce((p, s) => p * s, 1) === shape.reduce((p, s) => p * s, 1) ? empty(shape, 'float32', 'pad') : full(shape, value);
  const from = { offset: skip.reduce((o, s, d) => o + s * x.strides[d], 0), strides: x.strides };
  const outStrides = contiguousStrides(shape);
  const to = { offset: before.reduce((o, b, d) => o + Math.max(0, b) * outStrides[d], 0), strides: outStrides };
  copyStrided(x, from, out, to, kept, 'pad');
  return record(out, 'pad', [x], (grad) => [pad(grad, pads.map((p) => -p))]);
}

/** `x` broadcast to `shape` (-1 keeps a size; new leading dimensions allowed), like torch.Tensor.expand,
 *  as a new contiguous tensor. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  const resolved = shape.map((s, d) => (s === -1 && d >= lead ? x.shape[d - lead] : s));
  if (resolved.some((s) => !Number.isInteger(s) || s < 0) || !broadcastsTo(x.shape, resolved)) {
    throw new Error(`expand: shape [${x.shape}] cannot be expanded to [${shape}]; sizes must match or be 1 in the input`);
  }
  const out = broadcastTo(x, resolved, 'expand');
  return record(out, 'expand', [x], (grad) => [sumToShape(grad, x.shape)]);
}
