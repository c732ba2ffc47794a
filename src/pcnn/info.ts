/**
 * Multiply-accumulates of one PCNN forward pass, counted from the architecture (convolutions and linear
 * layers; batch norm, pooling and resampling are not counted, as in the paper's figure). With the paper's
 * registration layer4 runs twice (on x10 for theta, then on x1 + x11); with registration by
 * cross-attention once, plus the attention's projections (q, k, v, out: 4·L·C²) and its two products
 * (2·L²·C) over the L = gh·gw positions.
 */
import { convOutputSize, cropBoxes, trunkSize, layer4Size } from './geometry.js';
import type { PCNNConfig } from './model.js';

interface Counted {
  macs: number;
  h: number;
  w: number;
}

function conv(h: number, w: number, cin: number, cout: number, k: number, s: number, p: number): Counted {
  const oh = convOutputSize(h, k, s, p);
  const ow = convOutputSize(w, k, s, p);
  return { macs: oh * ow * cout * cin * k * k, h: oh, w: ow };
}

/** Two BasicBlocks from cin to cout, the first with `stride` (and a 1x1 downsample when needed). */
function layer(h: number, w: number, cin: number, cout: number, stride: number): Counted {
  const a = conv(h, w, cin, cout, 3, stride, 1);
  const b = conv(a.h, a.w, cout, cout, 3, 1, 1);
  const down = stride !== 1 || cin !== cout ? conv(h, w, cin, cout, 1, stride, 0).macs : 0;
  const c = conv(b.h, b.w, cout, cout, 3, 1, 1);
  const d = conv(c.h, c.w, cout, cout, 3, 1, 1);
  return { macs: a.macs + b.macs + down + c.macs + d.macs, h: d.h, w: d.w };
}

function trunk(h: number, w: number, cin: number, width: number): Counted {
  const stem = conv(h, w, cin, width, 7, 2, 3);
  const pooledH = convOutputSize(stem.h, 3, 2, 1);
  const pooledW = convOutputSize(stem.w, 3, 2, 1);
  const l1 = layer(pooledH, pooledW, width, width, 1);
  const l2 = layer(l1.h, l1.w, width, 2 * width, 2);
  const l3 = layer(l2.h, l2.w, 2 * width, 4 * width, 2);
  return { macs: stem.macs + l1.macs + l2.macs + l3.macs, h: l3.h, w: l3.w };
}

export function pcnnMacs(config: Required<PCNNConfig>): number {
  const { inChannels, width, numClasses, inputSize } = config;
  const [h, w] = inputSize;
  let macs = trunk(h, w, inChannels, width).macs;
  for (const box of Object.values(cropBoxes(h, w))) macs += trunk(box.height, box.width, inChannels, width).macs;
  const [gh, gw] = [trunkSize(h), trunkSize(w)];
  const layer4 = layer(gh, gw, 4 * width, 8 * width, 2).macs;
  if (config.registration === 'attention') {
    const [positions, channels] = [gh * gw, 4 * width];
    macs += layer4 + 4 * positions * channels * channels + 2 * positions * positions * channels;
  } else {
    macs += 2 * layer4 + 8 * width * layer4Size(gh) * layer4Size(gw) * 32 + 32 * 6;
  }
  macs += 8 * width * numClasses + 5 * 4 * width * numClasses;
  return macs;
}
