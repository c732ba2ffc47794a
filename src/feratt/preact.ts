/**
 * FERAtt's classifier `netclass` = preactresembnetex18 (pedrodiamel/ferattention,
 * torchlib/models/preactresnet.py: PreActBlock, PreActResEmbExNet), with the official names:
 * conv1 (3x3, no bias), layer1..4 of two PreActBlocks each at c, 2c, 4c, 8c channels (c =
 * initial_channels, 64 officially), a fixed 4x4 average pool (F.avg_pool2d(out, 4), not a global one),
 * `linear` (8c → dim: the embedding z) and `classification` (dim → classes: the logits).
 */
import { Module, Sequential } from '../nn/module.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { avgPool2d } from '../kernels/pool/index.js';
import { flatten } from '../kernels/shape/index.js';
import type { Tensor } from '../engine/tensor.js';
import { convForward } from './blocks.js';
import { CLASSIFIER_POOL } from './config.js';

/**
 * PreActBlock: out = relu(bn1(x)); shortcut = shortcut(out) (1x1 conv, on the pre-activated input) where
 * the shape changes, else x; out = conv2(relu(bn2(conv1(out)))) + shortcut.
 */
export class PreActBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly shortcut: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number) {
    super();
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.shortcut =
      stride !== 1 || inPlanes !== planes
        ? this.registerModule('shortcut', new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false })))
        : null;
  }

  forward(x: Tensor): Tensor {
    const out = this.bn1.forwardFused(x, { relu: true });
    const shortcut = this.shortcut ? convForward(this.shortcut.layers[0] as Conv2d, out) : x;
    const h = this.bn2.forwardFused(convForward(this.conv1, out), { relu: true });
    return convForward(this.conv2, h, { residual: shortcut });
  }
}

/** PreActResEmbExNet(PreActBlock, [2, 2, 2, 2]). `forward` returns the embedding z and the logits. */
export class PreActResEmbExNet extends Module {
  readonly conv1: Conv2d;
  readonly layers: Sequential[];
  readonly linear: Linear;
  readonly classification: Linear;

  constructor(inChannels: number, initialChannels: number, dim: number, numClasses: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, initialChannels, 3, { padding: 1, bias: false }));
    let inPlanes = initialChannels;
    this.layers = [1, 2, 4, 8].map((scale, i) => {
      const planes = initialChannels * scale;
      const stage = this.registerModule(
        `layer${i + 1}`,
        new Sequential(new PreActBlock(inPlanes, planes, i === 0 ? 1 : 2), new PreActBlock(planes, planes, 1)),
      );
      inPlanes = planes;
      return stage;
    });
    this.linear = this.registerModule('linear', new Linear(8 * initialChannels, dim));
    this.classification = this.registerModule('classification', new Linear(dim, numClasses));
  }

  forward(x: Tensor): { z: Tensor; logits: Tensor } {
    const out = this.layers.reduce((y, layer) => layer.forward(y), this.conv1.forward(x));
    // The official 4x4 pool; on a smaller map (64x64 input, ours) the pool over the whole map.
    const [, , mh, mw] = out.shape;
    const z = this.linear.forward(flatten(avgPool2d(out, [Math.min(CLASSIFIER_POOL, mh), Math.min(CLASSIFIER_POOL, mw)])));
    return { z, logits: this.classification.forward(z) };
  }
}
