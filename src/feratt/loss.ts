/**
 * FERAtt's training losses and its GMM accuracy, as the authors' code defines them
 * (github.com/pedrodiamel/ferattention, branch cvprw):
 *   - `dgmmLoss`: torchlib/netlosses.py DGMMLoss (sigma 1, mix and knn off, as AttentionGMMNeuralNet
 *     creates it: `DGMMLoss(num_classes, cuda=...)`).
 *   - `attentionLoss`: torchlib/netlosses.py Attloss. At cvprw it is 10 · clamp(mean((d − 1)/(d + 1)),
 *     max 30) with d = exp(6 |x_org − att|), i.e. 10 · min(mean(tanh(3 |x_org − att|)), 30); computed
 *     here as tanh(3|e|), which is the same function without exp's overflow to inf/inf = NaN for
 *     |e| > 14.7. Its y_mask argument is unused there. The squared-error form 10 · min(mean((x_org −
 *     att)²), 30) (commented out at cvprw) is `form: 'mse'`.
 *   - `ferattLoss`: torchlib/attentionnet.py AttentionGMMNeuralNet.training: loss = loss_bce + loss_gmm
 *     + loss_att, with loss_bce = CrossEntropyLoss()(y, labels) (mean), loss_gmm = DGMMLoss(z, labels),
 *     loss_att = Attloss(x_org, y_mask, att); `loss.backward()` on that sum (not times the batch size,
 *     unlike the other variants).
 *   - `gmmAccuracy`: torchlib/netlosses.py GMMAccuracy, the nearest-class-mean accuracy the training
 *     log reports as 'gmm'.
 */
import { add, clamp, div, exp, mul, neg, relu, sub, tanh } from '../kernels/elementwise/index.js';
import { mean, sum } from '../kernels/reduce/index.js';
import { reshape } from '../kernels/shape/index.js';
import { matmul } from '../kernels/matmul/index.js';
import { crossEntropy } from '../kernels/softmax/index.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { expectFloat32 } from '../kernels/checks.js';

function hostLabels(labels: Int32Array | readonly number[], n: number, numClasses: number | null, op: string): Int32Array {
  const out = Int32Array.from(labels);
  if (out.length !== n) throw new Error(`${op}: ${out.length} labels for ${n} embeddings`);
  out.forEach((label, i) => {
    if (!Number.isInteger(labels[i]) || label < 0 || (numClasses !== null && label >= numClasses)) {
      throw new Error(`${op}: label ${String(labels[i])} at ${i} is not a class index${numClasses === null ? '' : ` in [0, ${numClasses})`}`);
    }
  });
  return out;
}

/**
 * DGMMLoss: per batch, the mean μ_c of the embeddings z of each class c present in it; π_ic =
 * exp(−‖z_i − μ_c‖² / 2σ²) over the present classes, normalised by (their sum + 1e-15) and clamped to
 * [0, 1]; loss = mean_i Σ_c (π_ic − onehot_ic)². A class absent from the batch has π_ic = 0 and no
 * one-hot entry, so it adds nothing (as in the official loop's `continue`). Labels are host data: which
 * classes are present decides the graph.
 */
export function dgmmLoss(z: Tensor, labels: Int32Array | readonly number[], numClasses: number, { sigma = 1 } = {}): Tensor {
  expectFloat32('dgmmLoss', 'z', z);
  if (z.ndim !== 2 || z.shape[0] < 1) throw new Error(`dgmmLoss: expected embeddings [N, dim] with N >= 1, got [${z.shape}]`);
  if (!(sigma > 0)) throw new Error(`dgmmLoss: sigma must be positive, got ${sigma}`);
  const [n, dim] = z.shape;
  const y = hostLabels(labels, n, numClasses, 'dgmmLoss');
  const present = [...new Set(y)].sort((a, b) => a - b);
  const k = present.length;
  const column = new Map(present.map((c, j) => [c, j]));
  const counts = new Float64Array(k);
  y.forEach((label) => counts[column.get(label)!]++);
  // μ = A z with A[j, i] = 1 / n_j where y_i is the j-th present class.
  const averaging = new Float32Array(k * n);
  const onehot = new Float32Array(n * k);
  y.forEach((label, i) => {
    const j = column.get(label)!;
    averaging[j * n + i] = 1 / counts[j];
    onehot[i * k + j] = 1;
  });
  const mu = matmul(tensor(averaging, [k, n]), z);
  const diff = sub(reshape(z, [n, 1, dim]), reshape(mu, [1, k, dim]));
  const distance = sum(mul(diff, diff), 2);
  const density = exp(mul(distance, -1 / (2 * sigma * sigma)));
  const pi = clamp(div(density, add(sum(density, 1, true), 1e-15)), { min: 0, max: 1 });
  const error = sub(pi, tensor(onehot, [n, k]));
  return mean(sum(mul(error, error), 1));
}

export interface AttentionLossOptions {
  /** 'tanh' (default): the cvprw Attloss, 10 · min(mean(tanh(3|e|)), 30); 'mse': 10 · min(mean(e²), 30). */
  form?: 'tanh' | 'mse';
}

/** Attloss(x_org, att): how far the attended reconstruction is from the clean face. */
export function attentionLoss(clean: Tensor, attended: Tensor, { form = 'tanh' }: AttentionLossOptions = {}): Tensor {
  expectFloat32('attentionLoss', 'clean', clean);
  expectFloat32('attentionLoss', 'attended', attended);
  if (clean.shape.join() !== attended.shape.join()) {
    throw new Error(`attentionLoss: clean [${clean.shape}] and attended [${attended.shape}] must have one shape`);
  }
  if (form !== 'tanh' && form !== 'mse') throw new Error(`attentionLoss: form must be 'tanh' or 'mse', got ${JSON.stringify(form)}`);
  const e = sub(clean, attended);
  // |e| = relu(e) + relu(−e): gradient 0 at e = 0, as torch.abs's.
  const perElement = form === 'tanh' ? tanh(mul(add(relu(e), relu(neg(e))), 3)) : mul(e, e);
  return mul(clamp(mean(perElement), { max: 30 }), 10);
}

export interface FERAttLossTerms {
  /** ce + gmm + att, what the official step back-propagates. */
  total: Tensor;
  ce: Tensor;
  gmm: Tensor;
  att: Tensor;
}

export interface FERAttLossOptions extends AttentionLossOptions {
  /** DGMM's sigma (1 officially). */
  sigma?: number;
}

/**
 * The official GMM training step's loss: CE(logits, labels) + DGMM(z, labels) + Attloss(clean target,
 * attended). `target` is the face the reconstruction should match (the data loader's x_org).
 */
export function ferattLoss(
  out: { z: Tensor; logits: Tensor; attended: Tensor },
  labels: Int32Array | readonly number[],
  target: Tensor,
  { sigma = 1, form = 'tanh' }: FERAttLossOptions = {},
): FERAttLossTerms {
  expectFloat32('ferattLoss', 'logits', out.logits);
  if (out.logits.ndim !== 2) throw new Error(`ferattLoss: expected logits [N, classes], got [${out.logits.shape}]`);
  if (out.z.ndim !== 2 || out.z.shape[0] !== out.logits.shape[0]) {
    throw new Error(`ferattLoss: z [${out.z.shape}] must be [N, dim] for logits [${out.logits.shape}]`);
  }
  if (target.shape.join() !== out.attended.shape.join()) {
    throw new Error(`ferattLoss: target [${target.shape}] and attended [${out.attended.shape}] must have one shape`);
  }
  const numClasses = out.logits.shape[1];
  const y = hostLabels(labels, out.logits.shape[0], numClasses, 'ferattLoss');
  const ce = crossEntropy(out.logits, y);
  const gmm = dgmmLoss(out.z, y, numClasses, { sigma });
  const att = attentionLoss(target, out.attended, { form });
  return { total: add(add(ce, gmm), att), ce, gmm, att };
}

/**
 * GMMAccuracy (percent): each embedding is assigned the nearest mean of the classes present in the
 * batch (argmin of ‖z_i − μ_c‖², the first on ties), and counted correct when that is its own class.
 * Host data: z [N, dim] row-major.
 */
export function gmmAccuracy(z: ArrayLike<number>, labels: Int32Array | readonly number[], dim: number): number {
  if (!Number.isInteger(dim) || dim < 1 || z.length % dim) throw new Error(`gmmAccuracy: ${z.length} values are not rows of dim ${dim}`);
  const n = z.length / dim;
  const y = hostLabels(labels, n, null, 'gmmAccuracy');
  if (n === 0) throw new Error('gmmAccuracy: no embeddings');
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const means = classes.map((c) => {
    const mu = new Float64Array(dim);
    let count = 0;
    y.forEach((label, i) => {
      if (label !== c) return;
      count++;
      for (let d = 0; d < dim; d++) mu[d] += z[i * dim + d];
    });
    return mu.map((v) => v / count);
  });
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestDistance = Infinity;
    means.forEach((mu, j) => {
      let distance = 0;
      for (let d = 0; d < dim; d++) distance += (z[i * dim + d] - mu[d]) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [j, distance];
    });
    if (classes[best] === y[i]) correct++;
  }
  return (100 * correct) / n;
}
