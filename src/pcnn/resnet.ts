/**
 * The pieces of torchvision's ResNet-18 that PCNN uses, with torchvision's module names so that a
 * ResNet-18 `state_dict` maps onto them: the stem and layer1..3 as one trunk (`conv1`, `bn1`, `relu`,
 * `maxpool`, `layer1`..`layer3` at Sequential indices 0..6), and layer4 on its own.
 */
import { Module, Sequential, type Layer } from '../nn/module.js';
import { Conv2d } from '../nn/conv.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { MaxPool2d } from '../nn/pool.js';
import { ReLU } from '../nn/activation.js';
import { conv2dFused, foldBatchNorm } from '../kernels/conv2d/index.js';
import { isGradEnabled } from '../engine/autograd.js';
import { contentVersion, recorder } from '../engine/recorder.js';
import { keep } from '../engine/scope.js';
import { empty, upload, type Tensor } from '../engine/tensor.js';
import { defaultGenerator } from '../engine/random.js';

export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inChannels: number, channels: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, channels, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(channels));
    this.conv2 = this.registerModule('conv2', new Conv2d(channels, channels, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(channels));
    this.downsample =
      stride !== 1 || inChannels !== channels
        ? this.registerModule(
            'downsample',
            new Sequential(new Conv2d(inChannels, channels, 1, { stride, bias: false }), new BatchNorm2d(channels)),
          )
        : null;
  }

  private readonly folds = new FoldCache();

  forward(x: Tensor): Tensor {
    if (isInference(this)) {
      const [downConv, downBn] = (this.downsample?.layers ?? []) as [Conv2d?, BatchNorm2d?];
      const identity = downConv ? convBn(x, downConv, downBn!, this.folds) : x;
      const h = convBn(x, this.conv1, this.bn1, this.folds, { relu: true });
      return convBn(h, this.conv2, this.bn2, this.folds, { residual: identity, relu: true });
    }
    this.folds.clear();
    const h = this.bn1.forwardFused(this.conv1.forward(x), { relu: true });
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return this.bn2.forwardFused(this.conv2.forward(h), { residual: identity, relu: true });
  }

  protected override releaseCaches(): void {
    this.folds.clear();
  }
}

/** Eval mode without a graph: batch norms can be folded into the convolutions before them. */
export function isInference(module: Module): boolean {
  return !module.training && !isGradEnabled();
}

/**
 * Folded weights of a module's conv → BN pairs, kept between inference calls: an entry is used again
 * while none of the buffers it was computed from has been written since (`contentVersion`; a training
 * step, a load or an upload writes them), so a cached fold is always the one a new fold would give.
 * Training-mode forwards and `dispose()` free the entries.
 */
export class FoldCache {
  private readonly entries = new Map<Conv2d, { key: unknown[]; weight: Tensor; bias: Tensor }>();

  /** The folded weight and bias of conv → bn; of several such pairs, stacked along output channels
   *  (the weights of a grouped convolution running them side by side, see paired.ts). */
  get(...pairs: [Conv2d, BatchNorm2d][]): { weight: Tensor; bias: Tensor } {
    const key: unknown[] = [];
    for (const [conv, bn] of pairs) {
      if (!bn.runningMean || !bn.runningVar || !bn.weight || !bn.bias) {
        throw new Error('PCNN inference: batch norms need running statistics and affine parameters to be folded');
      }
      const inputs = [conv.weight, conv.bias, bn.runningMean, bn.runningVar, bn.weight, bn.bias];
      key.push(bn.eps, ...inputs.flatMap((t) => (t ? [t.buffer, t.byteOffset, contentVersion(t.buffer)] : [null])));
    }
    const first = pairs[0][0];
    const cached = this.entries.get(first);
    if (cached && cached.key.length === key.length && cached.key.every((v, i) => v === key[i])) return cached;
    this.drop(first);
    const folded = pairs.map(([conv, bn]) => foldBatchNorm(conv.weight, conv.bias, bn.runningMean!, bn.runningVar!, bn.weight!, bn.bias!, bn.eps));
    const entry = { key, weight: keep(stacked(folded.map((f) => f.weight))), bias: keep(stacked(folded.map((f) => f.bias))) };
    this.entries.set(first, entry);
    return entry;
  }

  clear(): void {
    for (const conv of [...this.entries.keys()]) this.drop(conv);
  }

  private drop(conv: Conv2d): void {
    const entry = this.entries.get(conv);
    if (!entry) return;
    this.entries.delete(conv);
    entry.weight.dispose();
    entry.bias.dispose();
  }
}

/** The tensors joined along their first dimension by buffer copies (the one tensor itself if alone;
 *  the parts are disposed). */
function stacked(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const out = empty([parts.reduce((n, t) => n + t.shape[0], 0), ...parts[0].shape.slice(1)], 'float32', 'FoldCache');
  let at = 0;
  for (const t of parts) {
    recorder.copy(t.buffer, t.byteOffset, out.buffer, at, t.size * 4);
    at += t.size * 4;
    t.dispose();
  }
  return out;
}

/** conv → eval-mode BN (→ + residual) (→ ReLU) as one convolution with folded weights and a fused store. */
function convBn(x: Tensor, conv: Conv2d, bn: BatchNorm2d, folds: FoldCache, epilogue: { residual?: Tensor; relu?: boolean } = {}): Tensor {
  const folded = folds.get([conv, bn]);
  const { stride, padding, dilation, groups } = conv;
  return conv2dFused(x, folded.weight, folded.bias, { stride, padding, dilation, groups, ...epilogue });
}

/** The stem and layer1..3. The stem's BN and ReLU run as one pass in training, and fold into its
 *  convolution in inference (the ReLU module stays for torchvision's Sequential indices). */
export class ResnetTrunk extends Sequential {
  private readonly folds = new FoldCache();

  forward(x: Tensor): Tensor {
    return this.stages(x).at(-1)!;
  }

  /** The outputs of layer1, layer2, ... up to layer `upTo` (1-based; default all), each stage computed once. */
  stages(x: Tensor, upTo = this.layers.length - 4): Tensor[] {
    const [conv, bn, , maxpool, ...layers] = this.layers as [Conv2d, BatchNorm2d, ReLU, MaxPool2d, ...Layer[]];
    if (!Number.isInteger(upTo) || upTo < 1 || upTo > layers.length) throw new Error(`ResnetTrunk.stages: upTo must be 1..${layers.length}, got ${upTo}`);
    if (!isInference(this)) this.folds.clear();
    const stem = isInference(this) ? convBn(x, conv, bn, this.folds, { relu: true }) : bn.forwardFused(conv.forward(x), { relu: true });
    const outputs: Tensor[] = [];
    layers.slice(0, upTo).reduce((y, layer) => (outputs[outputs.length] = layer.forward(y)), maxpool.forward(stem));
    return outputs;
  }

  protected override releaseCaches(): void {
    this.folds.clear();
  }
}

/** Two BasicBlocks, the first with the stride (and a downsample where the shape changes). */
export function resnetLayer(inChannels: number, channels: number, stride: number): Sequential {
  return new Sequential(new BasicBlock(inChannels, channels, stride), new BasicBlock(channels, channels, 1));
}

/** conv1 7x7 s2 p3, bn1, relu, maxpool 3x3 s2 p1, layer1..3: width w → 4w channels at about H/16. */
export function resnetTrunk(inChannels: number, width: number): ResnetTrunk {
  return new ResnetTrunk(
    new Conv2d(inChannels, width, 7, { stride: 2, padding: 3, bias: false }),
    new BatchNorm2d(width),
    new ReLU(),
    new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }),
    resnetLayer(width, width, 1),
    resnetLayer(width, 2 * width, 2),
    resnetLayer(2 * width, 4 * width, 2),
  );
}

/** torchvision's ResNet initialisation: Kaiming normal (fan_out, ReLU gain) for convolutions,
 *  weight 1 and bias 0 for batch norms. Linear layers keep PyTorch's default. */
export function initResnet(module: Module, generator = defaultGenerator): void {
  for (const [, m] of module.namedModules()) {
    if (m instanceof Conv2d) {
      const [out, , kh, kw] = m.weight.shape;
      const std = Math.sqrt(2 / (out * kh * kw));
      const data = new Float32Array(m.weight.size);
      for (let i = 0; i < data.length; i++) data[i] = std * generator.normal();
      upload(m.weight, data);
    }
  }
}
