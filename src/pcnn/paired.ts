/**
 * Two local trunks on crops of one size run as one trunk of twice the channels: the crops are stacked
 * along channels ([N, 2C, H, W]) and every convolution runs with twice the groups on the two weights
 * stacked along output channels (group 0 reads the first crop's channels with the first trunk's weights,
 * group 1 the second's), so each stage is one dispatch for both. BatchNorm, max-pool, residual and ReLU
 * act per channel and see exactly the channels they see apart: batch statistics reduce over N·H·W per
 * channel, as before; the running statistics of both are stacked, updated in the statistics pass and
 * copied back, with one num_batches_tracked counter per half.
 *
 * The stacked weights are copies made by `stackPair` (two buffer copies, no dispatch), whose backward
 * hands each parameter its half of the gradient; in inference the folded weights of both are folded
 * once and kept (FoldCache). The parameters and buffers stay the modules' own (state-dict names, the
 * optimizers' packing and checkpoints unchanged). PCNN pairs the eyes and the cheeks where their crops
 * have one size and the two trunks are alike (`canPair`); otherwise each trunk runs alone.
 */
import type { Layer, Module, Sequential } from '../nn/module.js';
import { Conv2d } from '../nn/conv.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { MaxPool2d } from '../nn/pool.js';
import { conv2d, conv2dFused } from '../kernels/conv2d/index.js';
import { batchNorm2d } from '../kernels/batchnorm/index.js';
import { maxPool2d } from '../kernels/pool/index.js';
import { cat, narrow } from '../kernels/shape/index.js';
import { record } from '../engine/autograd.js';
import { recorder } from '../engine/recorder.js';
import { empty, type Tensor } from '../engine/tensor.js';
import { BasicBlock, isInference, type FoldCache } from './resnet.js';

/** [a; b] along the first dimension, as a new tensor (two buffer copies); the gradient splits back. */
export function stackPair(a: Tensor, b: Tensor): Tensor {
  const out = empty([a.shape[0] + b.shape[0], ...a.shape.slice(1)], a.dtype, 'stackPair');
  recorder.copy(a.buffer, a.byteOffset, out.buffer, 0, a.size * 4);
  recorder.copy(b.buffer, b.byteOffset, out.buffer, a.size * 4, b.size * 4);
  return record(out, 'stackPair', [a, b], (grad) => [a.requiresGrad ? part(grad, 0, a) : null, b.requiresGrad ? part(grad, a.size, b) : null]);
}

/** Elements [offset, offset + like.size) of t as a new tensor of like's shape (one buffer copy). */
function part(t: Tensor, offset: number, like: Tensor): Tensor {
  const out = empty(like.shape, t.dtype, 'stackPair part');
  recorder.copy(t.buffer, t.byteOffset + offset * 4, out.buffer, 0, like.size * 4);
  return out;
}

/** Two one-element int32 counters (num_batches_tracked) as one int32 [2]. */
function stackCounts(a: Tensor, b: Tensor): Tensor {
  const out = empty([2], 'int32', 'stackPair counters');
  recorder.copy(a.buffer, a.byteOffset, out.buffer, 0, 4);
  recorder.copy(b.buffer, b.byteOffset, out.buffer, 4, 4);
  return out;
}

/** Copies the halves of `stacked` back into a and b. */
function unstack(stacked: Tensor, a: Tensor, b: Tensor): void {
  recorder.copy(stacked.buffer, stacked.byteOffset, a.buffer, a.byteOffset, a.size * 4);
  recorder.copy(stacked.buffer, stacked.byteOffset + a.size * 4, b.buffer, b.byteOffset, b.size * 4);
}

const sameShape = (a: Tensor | null, b: Tensor | null) => (a === null) === (b === null) && (!a || a.shape.join() === b!.shape.join());

/** Whether two modules compute the same function of different parameters: the same structure,
 *  configuration and mode, batch norms with their own statistics and the same eps and momentum. */
function alike(a: Module, b: Module): boolean {
  const ma = [...a.namedModules()];
  const mb = [...b.namedModules()];
  if (ma.length !== mb.length) return false;
  return ma.every(([name, x], i) => {
    const [nameB, y] = mb[i];
    if (name !== nameB || x.constructor !== y.constructor || x.training !== y.training) return false;
    if (x instanceof Conv2d && y instanceof Conv2d) {
      return (
        sameShape(x.weight, y.weight) &&
        sameShape(x.bias, y.bias) &&
        [x.stride, x.padding, x.dilation].join() === [y.stride, y.padding, y.dilation].join() &&
        x.groups === y.groups
      );
    }
    if (x instanceof BatchNorm2d && y instanceof BatchNorm2d) {
      return (
        x.numFeatures === y.numFeatures &&
        x.usesOwnStatistics &&
        y.usesOwnStatistics &&
        x.weight !== null &&
        x.bias !== null &&
        y.weight !== null &&
        y.bias !== null &&
        x.eps === y.eps &&
        x.momentum !== null &&
        x.momentum === y.momentum
      );
    }
    if (x instanceof MaxPool2d && y instanceof MaxPool2d) return JSON.stringify(x.options) === JSON.stringify(y.options);
    return true;
  });
}

/** Whether two ResNet trunks (stem, max-pool, BasicBlock layers) can run as one on inputs of one shape. */
export function canPair(a: Sequential, b: Sequential): boolean {
  return a.layers.length === b.layers.length && a.layers.length >= 4 && alike(a, b);
}

/** The two trunks' outputs on xa and xb, computed as one trunk (see the top of the file); the caller
 *  checks `canPair` and that xa and xb have one shape. */
export function pairedTrunks(a: Sequential, b: Sequential, xa: Tensor, xb: Tensor, folds: FoldCache): [Tensor, Tensor] {
  if (xa.shape.join() !== xb.shape.join()) throw new Error(`pairedTrunks: inputs [${xa.shape}] and [${xb.shape}] differ`);
  const inference = isInference(a);
  const [convA, bnA, , pool, ...layersA] = a.layers as [Conv2d, BatchNorm2d, Layer, MaxPool2d, ...Sequential[]];
  const [convB, bnB, , , ...layersB] = b.layers as [Conv2d, BatchNorm2d, Layer, MaxPool2d, ...Sequential[]];
  const pair = (x: Tensor, [ca, na]: [Conv2d, BatchNorm2d], [cb, nb]: [Conv2d, BatchNorm2d], epilogue: Epilogue = {}) =>
    inference ? foldedPair(x, ca, na, cb, nb, folds, epilogue) : trainingPair(x, ca, na, cb, nb, epilogue);
  let y = maxPool2d(pair(cat([xa, xb], 1), [convA, bnA], [convB, bnB], { relu: true }), pool.options);
  layersA.forEach((layer, i) => {
    layer.layers.forEach((blockA, j) => {
      const [ba, bb] = [blockA as BasicBlock, layersB[i].layers[j] as BasicBlock];
      const [downA, downB] = [ba.downsample?.layers, bb.downsample?.layers] as [[Conv2d, BatchNorm2d]?, [Conv2d, BatchNorm2d]?];
      const x = y;
      const h = pair(x, [ba.conv1, ba.bn1], [bb.conv1, bb.bn1], { relu: true });
      const identity = downA && downB ? pair(x, downA, downB) : x;
      y = pair(h, [ba.conv2, ba.bn2], [bb.conv2, bb.bn2], { residual: identity, relu: true });
    });
  });
  const c = y.shape[1] / 2;
  return [narrow(y, 1, 0, c), narrow(y, 1, c, c)];
}

interface Epilogue {
  residual?: Tensor;
  relu?: boolean;
}

function convOptions(conv: Conv2d) {
  return { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: 2 * conv.groups };
}

/** Training (or eval with a graph): the stacked convolution, then batch norm over the stacked channels. */
function trainingPair(x: Tensor, ca: Conv2d, na: BatchNorm2d, cb: Conv2d, nb: BatchNorm2d, epilogue: Epilogue): Tensor {
  const bias = ca.bias && cb.bias ? stackPair(ca.bias, cb.bias) : null;
  const h = conv2d(x, stackPair(ca.weight, cb.weight), bias, convOptions(ca));
  const training = na.training;
  const [meanA, meanB, varA, varB] = [na.runningMean!, nb.runningMean!, na.runningVar!, nb.runningVar!];
  const mean = stackPair(meanA, meanB);
  const variance = stackPair(varA, varB);
  const counts = training && na.numBatchesTracked && nb.numBatchesTracked ? stackCounts(na.numBatchesTracked, nb.numBatchesTracked) : null;
  const y = batchNorm2d(h, mean, variance, stackPair(na.weight!, nb.weight!), stackPair(na.bias!, nb.bias!), {
    training,
    momentum: training ? na.momentum! : 0,
    eps: na.eps,
    batchCount: counts,
    ...epilogue,
  });
  if (training) {
    unstack(mean, meanA, meanB);
    unstack(variance, varA, varB);
    if (counts) unstack(counts, na.numBatchesTracked!, nb.numBatchesTracked!);
  }
  // Safe right after recording: whoever reuses the pooled buffers is recorded later.
  for (const t of [mean, variance, counts]) t?.dispose();
  return y;
}

/** Inference: one convolution with both trunks' BatchNorm-folded weights stacked (kept in `folds`). */
function foldedPair(x: Tensor, ca: Conv2d, na: BatchNorm2d, cb: Conv2d, nb: BatchNorm2d, folds: FoldCache, epilogue: Epilogue): Tensor {
  const folded = folds.get([ca, na], [cb, nb]);
  return conv2dFused(x, folded.weight, folded.bias, { ...convOptions(ca), ...epilogue });
}
