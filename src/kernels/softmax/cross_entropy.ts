/**
 * crossEntropy, as torch.nn.functional.cross_entropy (PyTorch 1.13) for logits [N, C] and class
 * indices: optional class weights, label smoothing ((1 - eps) * NLL + eps * mean over classes of
 * -logp, both weighted), reductions 'mean' (divided by the summed weights of the labels), 'sum' and
 * 'none'. Fused: one dispatch for log-softmax + loss per row (+ one for the reduction), one for the
 * gradient (softmax minus the smoothed one-hot target). Differentiable in the logits only.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { Tensor, empty, full, tensor } from '../../engine/tensor.js';
import { record, willRecord } from '../../engine/autograd.js';
import forwardSource from '../../../shaders/softmax/cross_entropy_forward.wgsl';
import reduceSource from '../../../shaders/softmax/cross_entropy_reduce.wgsl';
import backwardSource from '../../../shaders/softmax/cross_entropy_backward.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('cross_entropy_forward', forwardSource);
const reduceKernel = new Kernel('cross_entropy_reduce', reduceSource);
const backwardKernel = new Kernel('cross_entropy_backward', backwardSource);

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** eps in [0, 1]: the target is (1 - eps) * onehot(label) + eps / C. Default 0. */
  labelSmoothing?: number;
  /** 'mean' (default): sum of losses / sum of the labels' weights; 'sum'; 'none': one loss per row. */
  reduction?: Reduction;
  /** A weight per class ([C]); not differentiable (nor is it in PyTorch). */
  weight?: Tensor | Float32Array;
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function describe(value: unknown): string {
  if (value instanceof Tensor) return withArticle(`${value.dtype} tensor [${value.shape}]`);
  return typeof value === 'object' && value !== null ? withArticle(value.constructor.name) : `${typeof value} ${String(value)}`;
}

/**
 * The labels as a GPU tensor, after checking every one against [0, C) on the host. Labels already on
 * the GPU (an int32 tensor) are refused: checking them would need a readback, which a synchronous op
 * cannot do, and an unchecked label outside [0, C) would silently make its row's loss (and the mean)
 * NaN. Nothing in the repository passes GPU labels: the loaders' batches carry Int32Arrays.
 */
function checkedLabels(labels: Int32Array | Tensor, n: number, c: number): Tensor {
  if (!(labels instanceof Int32Array)) {
        const why =
      labels instanceof Tensor && labels.dtype === 'int32'
        ? `; labels on the GPU cannot be checked against [0, ${c}) without a readback (one outside would make ` +
          'the loss NaN): read them back with toInt32Array() and pass the Int32Array'
        : '';
    throw new Error(`crossEntropy: labels must be an Int32Array of ${n} class indices (one per row), got ${describe(labels)}${why}`);
  }
  if (labels.length !== n) {
    throw new Error(`crossEntropy: ${labels.length} labels for logits of ${n} rows; expected one label per row`);
  }
  labels.forEach((label, i) => {
    if (label < 0 || label >= c) {
      throw new Error(`crossEntropy: label ${label} at index ${i} is outside [0, ${c}) (logits have ${c} classes)`);
    }
  });
  return tensor(labels, [n]);
}

function checkedWeight(weight: Tensor | Float32Array | undefined, c: number): Tensor {
  if (weight === undefined) return full([c], 1);
  if (weight instanceof Float32Array) {
    if (weight.length !== c) throw new Error(`crossEntropy: weight has ${weight.length} values, expected one per class (${c})`);
    return tensor(weight, [c]);
  }
  expectFloat32('crossEntropy', 'weight', weight);
  if (weight.ndim !== 1 || weight.shape[0] !== c) {
    throw new Error(`crossEntropy: weight must have shape [${c}] (one value per class), got [${weight.shape}]`);
  }
  if (willRecord([weight])) {
    throw new Error('crossEntropy: the gradient with respect to weight is not implemented (nor in PyTorch); detach it');
  }
  return weight;
}

/**
 * Cross-entropy of `logits` [N, C] against class indices `labels` [N], an Int32Array checked against
 * [0, C) before any dispatch. An int32 tensor is refused with an error saying why (see checkedLabels);
 * the type still admits a Tensor only because pcnnLoss (src/pcnn/loss.ts) forwards labels typed
 * `Int32Array | Tensor`.
 */
export function crossEntropy(logits: Tensor, labels: Int32Array | Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { labelSmoothing = 0, reduction = 'mean' } = options;
  expectFloat32('crossEntropy', 'logits', logits);
  if (logits.ndim !== 2 || logits.shape[1] < 1) {
    throw new Error(`crossEntropy: expected logits of shape [N, C] with C >= 1, got [${logits.shape}]`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  if (!['mean', 'sum', 'none'].includes(reduction)) {
    throw new Error(`crossEntropy: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`);
  }
  const [rows, classes] = logits.shape;
  const labelTensor = checkedLabels(labels, rows, classes);
  const weight = checkedWeight(options.weight, classes);
  const common = { rows, classes };
  const buffers = { logits, labels: labelTensor, weight };

  const rowLoss = empty([rows], 'float32', 'crossEntropy');
  const lse = empty([rows], 'float32', 'crossEntropy');
  // One invocation per row.
  const workgroups = (kernel: Kernel) => workgroups1d(Math.ceil(rows / kernel.workgroupInvocations));
  dispatch(forwardKernel, {
    workgroups: workgroups(forwardKernel),
    buffers: { ...buffers, loss: rowLoss, lse },
    uniforms: { ...common, smoothing: labelSmoothing },
  });
  let out = rowLoss;
  let divisor: Tensor;
  if (reduction === 'none') {
    divisor = full([1], 1);
  } else {
    out = empty([], 'float32', 'crossEntropy');
    divisor = empty([1], 'float32', 'crossEntropy');
    dispatch(reduceKernel, {
      workgroups: [1],
      buffers: { loss: rowLoss, labels: labelTensor, weight, out, divisor },
      uniforms: common,
      constants: { MEAN: reduction === 'mean' ? 1 : 0 },
    });
  }
  const temporaries = [
    lse,
    divisor,
    ...(out === rowLoss ? [] : [rowLoss]),
    labelTensor,
    ...(weight === options.weight ? [] : [weight]),
  ];
  return record(out, 'crossEntropy', [logits], (grad) => {
    const gx = empty(logits.shape, 'float32', 'crossEntropy backward');
    dispatch(backwardKernel, {
      workgroups: workgroups(backwardKernel),
      buffers: { ...buffers, lse, upstream: grad, divisor, gx },
      uniforms: { ...common, smoothing: labelSmoothing, upstreamStride: reduction === 'none' ? 1 : 0 },
    });
    return [gx];
  }, temporaries);
}
