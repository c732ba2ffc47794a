/**
 * FERAtt's building blocks (pedrodiamel/ferattention, torchlib/models/ferattentionnet.py), with the
 * official module names: ConvRelu (conv3x3 with bias + ReLU), DecoderBlockV2 (x2 bilinear upsample,
 * align_corners=False, then two ConvRelu), _Residual_Block_SR (conv3x3, LeakyReLU 0.2, conv3x3, + input),
 * torchvision's ResNet-34 (the attention encoder) and AttentionResNet (encoder-decoder → one logit map).
 */
import { Module, Sequential } from '../nn/module.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { MaxPool2d, AdaptiveAvgPool2d } from '../nn/pool.js';
import { LeakyReLU, ReLU } from '../nn/activation.js';
import { conv2dFused, foldBatchNorm } from '../kernels/conv2d/index.js';
import { leakyRelu } from '../kernels/elementwise/index.js';
import { cat } from '../kernels/shape/index.js';
import { maxPool2d } from '../kernels/pool/index.js';
import { interpolate } from '../kernels/resample/index.js';
import { isGradEnabled } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import { BasicBlock, initResnet } from '../pcnn/resnet.js';
import { RESNET34_BLOCKS, RESNET_FC_OUTPUTS } from './config.js';

/** conv(x) (+ residual) (→ ReLU) as one dispatch (with gradients), with the conv module's geometry. */
export function convForward(conv: Conv2d, x: Tensor, epilogue: { residual?: Tensor; relu?: boolean } = {}): Tensor {
  const { stride, padding, dilation, groups } = conv;
  return conv2dFused(x, conv.weight, conv.bias, { stride, padding, dilation, groups, ...epilogue });
}

/** Eval mode without a graph: a batch norm after a convolution folds into it. */
export function isInference(module: Module): boolean {
  return !module.training && !isGradEnabled();
}

/** ConvRelu: `conv` (3x3, padding 1, bias) and `activation` (ReLU), run as one fused convolution. */
export class ConvRelu extends Module {
  readonly conv: Conv2d;

  constructor(inChannels: number, outChannels: number) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 3, { padding: 1 }));
    this.registerModule('activation', new ReLU());
  }

  forward(x: Tensor): Tensor {
    return convForward(this.conv, x, { relu: true });
  }
}

/** DecoderBlockV2: x2 bilinear upsample (align_corners=False), `cr1`, `cr2`. */
export class DecoderBlockV2 extends Module {
  readonly cr1: ConvRelu;
  readonly cr2: ConvRelu;

  constructor(inChannels: number, middleChannels: number, outChannels: number) {
    super();
    this.cr1 = this.registerModule('cr1', new ConvRelu(inChannels, middleChannels));
    this.cr2 = this.registerModule('cr2', new ConvRelu(middleChannels, outChannels));
  }

  forward(x: Tensor): Tensor {
    return this.cr2.forward(this.cr1.forward(interpolate(x, { scaleFactor: 2, alignCorners: false })));
  }
}

/** _Residual_Block_SR: x + conv2(LeakyReLU_0.2(conv1(x))), both 3x3 with bias. */
export class ResidualBlockSR extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(channels: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(channels, channels, 3, { padding: 1 }));
    this.registerModule('relu', new LeakyReLU(0.2));
    this.conv2 = this.registerModule('conv2', new Conv2d(channels, channels, 3, { padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    return convForward(this.conv2, leakyRelu(convForward(this.conv1, x), 0.2), { residual: x });
  }
}

/** `blocks` BasicBlocks from cin to cout, the first with `stride` (torchvision's _make_layer). */
function resnetStage(blocks: number, inChannels: number, channels: number, stride: number): Sequential {
  const layers = [new BasicBlock(inChannels, channels, stride)];
  for (let i = 1; i < blocks; i++) layers.push(new BasicBlock(channels, channels, 1));
  return new Sequential(...layers);
}


/**
 * torchvision's resnet34 with its names (conv1, bn1, relu, maxpool, layer1..4, avgpool, fc) at base
 * width w, and its initialisation. FERAtt runs only conv1, bn1, relu and layer1..4 (through its aliases);
 * maxpool, avgpool and fc are kept for the state dict.
 */
export class ResNet34 extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly layers: Sequential[];
  readonly fc: Linear;

  constructor(inChannels: number, width: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, width, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.relu = this.registerModule('relu', new ReLU());
    this.registerModule('maxpool', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }));
    let cin = width;
    this.layers = RESNET34_BLOCKS.map((blocks, i) => {
      const cout = width << i;
      const stage = this.registerModule(`layer${i + 1}`, resnetStage(blocks, cin, cout, i === 0 ? 1 : 2));
      cin = cout;
      return stage;
    });
    this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(8 * width, RESNET_FC_OUTPUTS));
    initResnet(this);
  }
}

/**
 * AttentionResNet (encoder_depth 34): `encoder` (ResNet-34), `pool` (2x2 max pool), `relu`, the aliases
 * `conv1` = Sequential(encoder.conv1, encoder.bn1, encoder.relu, pool) and `conv2`..`conv5` =
 * encoder.layer1..4 (the same modules under two names, as in the official module), the decoder
 * `center`, `dec5`..`dec1` and the head `attention_map` = Sequential(ConvRelu(f, f), Conv2d(f, 1, 1)).
 * Width w: encoder w..8w, decoder num_filters f (w/2 in FERAtt's scaling; 32 officially).
 */
export class AttentionResNet extends Module {
  readonly encoder: ResNet34;
  readonly center: DecoderBlockV2;
  readonly decoder: DecoderBlockV2[];
  readonly head: Sequential;

  constructor(inChannels: number, width: number, numFilters: number) {
    super();
    const encoder = (this.encoder = this.registerModule('encoder', new ResNet34(inChannels, width)));
    const pool = this.registerModule('pool', new MaxPool2d({ kernelSize: 2, stride: 2 }));
    this.registerModule('relu', new ReLU());
    this.registerModule('conv1', new Sequential(encoder.conv1, encoder.bn1, encoder.relu, pool));
    encoder.layers.forEach((layer, i) => this.registerModule(`conv${i + 2}`, layer));
    const bottom = 8 * width;
    const f = numFilters;
    this.center = this.registerModule('center', new DecoderBlockV2(bottom, f * 8 * 2, f * 8));
    this.decoder = [
      this.registerModule('dec5', new DecoderBlockV2(bottom + f * 8, f * 8 * 2, f * 8)),
      this.registerModule('dec4', new DecoderBlockV2(bottom / 2 + f * 8, f * 8 * 2, f * 8)),
      this.registerModule('dec3', new DecoderBlockV2(bottom / 4 + f * 8, f * 4 * 2, f * 2)),
      this.registerModule('dec2', new DecoderBlockV2(bottom / 8 + f * 2, f * 2 * 2, f * 2 * 2)),
      this.registerModule('dec1', new DecoderBlockV2(f * 2 * 2, f * 2 * 2, f)),
    ];
    this.head = this.registerModule('attention_map', new Sequential(new ConvRelu(f, f), new Conv2d(f, 1, 1)));
  }

  /** The attention logits [N, 1, H, W] (g_att). */
  forward(x: Tensor): Tensor {
    const { conv1, bn1 } = this.encoder;
    let stem: Tensor;
    if (isInference(this)) {
      if (!bn1.runningMean || !bn1.runningVar || !bn1.weight || !bn1.bias) throw new Error('FERAtt inference: bn1 needs running statistics');
      const folded = foldBatchNorm(conv1.weight, conv1.bias, bn1.runningMean, bn1.runningVar, bn1.weight, bn1.bias, bn1.eps);
      stem = conv2dFused(x, folded.weight, folded.bias, { stride: 2, padding: 3, relu: true });
    } else {
      stem = bn1.forwardFused(conv1.forward(x), { relu: true });
    }
    const c1 = maxPool2d(stem, { kernelSize: 2, stride: 2 });
    const [c2, c3, c4, c5] = this.encoder.layers.reduce<Tensor[]>((maps, layer) => [...maps, layer.forward(maps.at(-1) ?? c1)], []);
    const center = this.center.forward(maxPool2d(c5, { kernelSize: 2, stride: 2 }));
    const [dec5, dec4, dec3, dec2, dec1] = this.decoder;
    let d = dec5.forward(cat([center, c5], 1));
    d = dec4.forward(cat([d, c4], 1));
    d = dec3.forward(cat([d, c3], 1));
    d = dec2.forward(cat([d, c2], 1));
    d = dec1.forward(d);
    const [convRelu, logit] = this.head.layers as [ConvRelu, Conv2d];
    return logit.forward(convRelu.forward(d));
  }
}
