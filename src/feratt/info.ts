/**
 * FERAtt's size, counted from the architecture without building it: parameters as PyTorch counts them
 * (`sum(p.numel() for p in model.parameters())`, the encoder's shared modules once; BatchNorm running
 * statistics are buffers, not counted) and multiply-accumulates of one forward pass (convolutions and
 * linear layers; batch norm, pooling, resampling and elementwise work not counted). 46,417,652
 * parameters for the official configuration, 45,904,652 without the unused encoder.fc.
 */
import { CLASSIFIER_POOL, RESNET34_BLOCKS, RESNET_FC_OUTPUTS, resolveFERAttConfig, type FERAttConfig } from './config.js';

export interface FERAttSize {
  parameters: number;
  /** Of which in attention_map.encoder.fc (never run). */
  unusedParameters: number;
  /** Per top-level module (attention_map, conv_input, feature, conv_mid, reconstruction, netclass). */
  byModule: Record<string, number>;
  macs: number;
}

class Counter {
  parameters = 0;
  macs = 0;
  h: number;
  w: number;

  constructor(h: number, w: number) {
    this.h = h;
    this.w = w;
  }

  /** A convolution on the current map, which it replaces; returns this. */
  conv(cin: number, cout: number, k: number, { stride = 1, padding = 0, bias = true } = {}): this {
    this.h = Math.floor((this.h + 2 * padding - k) / stride) + 1;
    this.w = Math.floor((this.w + 2 * padding - k) / stride) + 1;
    this.parameters += cout * cin * k * k + (bias ? cout : 0);
    this.macs += this.h * this.w * cout * cin * k * k;
    return this;
  }

  batchNorm(c: number): this {
    this.parameters += 2 * c;
    return this;
  }

  linear(inFeatures: number, outFeatures: number, { run = true } = {}): this {
    this.parameters += inFeatures * outFeatures + outFeatures;
    if (run) this.macs += inFeatures * outFeatures;
    return this;
  }

  scale(factor: number): this {
    this.h = Math.floor(this.h * factor);
    this.w = Math.floor(this.w * factor);
    return this;
  }
}

/** Parameters and multiply-accumulates of a FERAtt configuration, per image. */
export function ferattSize(config: FERAttConfig = {}): FERAttSize {
  const { inChannels: c, numClasses, dim, inputSize, width: w } = resolveFERAttConfig(config);
  const [h, wd] = inputSize;
  const f = w / 2;
  const byModule: Record<string, number> = {};

  // attention_map: the encoder.
  const a = new Counter(h, wd);
  a.conv(c, w, 7, { stride: 2, padding: 3, bias: false }).batchNorm(w).scale(1 / 2);
  const skips: number[] = [];
  let cin = w;
  RESNET34_BLOCKS.forEach((blocks, i) => {
    const cout = w << i;
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && i > 0 ? 2 : 1;
      const [inH, inW, blockIn] = [a.h, a.w, b === 0 ? cin : cout];
      a.conv(blockIn, cout, 3, { stride, padding: 1, bias: false }).batchNorm(cout);
      a.conv(cout, cout, 3, { padding: 1, bias: false }).batchNorm(cout);
      if (stride !== 1 || blockIn !== cout) {
        const [outH, outW] = [a.h, a.w];
        [a.h, a.w] = [inH, inW];
        a.conv(blockIn, cout, 1, { stride, bias: false }).batchNorm(cout);
        [a.h, a.w] = [outH, outW];
      }
    }
    skips.push(cout);
    cin = cout;
  });
  const unused = 8 * w * RESNET_FC_OUTPUTS + RESNET_FC_OUTPUTS;
  a.linear(8 * w, RESNET_FC_OUTPUTS, { run: false });
  // The decoder: each block upsamples x2, then ConvRelu twice.
  const decoder = (cinD: number, mid: number, cout: number) => a.scale(2).conv(cinD, mid, 3, { padding: 1 }).conv(mid, cout, 3, { padding: 1 });
  a.scale(1 / 2);
  decoder(8 * w, f * 16, f * 8); // center on the pooled conv5
  decoder(8 * w + f * 8, f * 16, f * 8); // dec5
  decoder(4 * w + f * 8, f * 16, f * 8); // dec4
  decoder(2 * w + f * 8, f * 8, f * 2); // dec3
  decoder(w + f * 2, f * 4, f * 4); // dec2
  decoder(f * 4, f * 4, f); // dec1
  a.conv(f, f, 3, { padding: 1 }).conv(f, 1, 1);
  byModule.attention_map = a.parameters;

  const m = new Counter(h, wd);
  const part = (name: string, fn: () => void) => {
    const before = m.parameters;
    fn();
    byModule[name] = m.parameters - before;
  };
  part('conv_input', () => m.conv(c, f, 9, { padding: 4 }));
  part('feature', () => {
    for (let i = 0; i < 8; i++) m.conv(f, f, 3, { padding: 1 });
  });
  part('conv_mid', () => m.conv(f, f, 3, { padding: 1 }));
  part('reconstruction', () => m.conv(f, f, 3, { padding: 1 }).conv(f, c, 1));

  const n = new Counter(h / CLASSIFIER_POOL, wd / CLASSIFIER_POOL);
  n.conv(c, w, 3, { padding: 1, bias: false });
  let planesIn = w;
  [1, 2, 4, 8].forEach((scale, i) => {
    const planes = w * scale;
    for (let b = 0; b < 2; b++) {
      const stride = b === 0 && i > 0 ? 2 : 1;
      const blockIn = b === 0 ? planesIn : planes;
      const [inH, inW] = [n.h, n.w];
      n.batchNorm(blockIn).conv(blockIn, planes, 3, { stride, padding: 1, bias: false }).batchNorm(planes);
      n.conv(planes, planes, 3, { padding: 1, bias: false });
      if (stride !== 1 || blockIn !== planes) {
        const [outH, outW] = [n.h, n.w];
        [n.h, n.w] = [inH, inW];
        n.conv(blockIn, planes, 1, { stride, bias: false });
        [n.h, n.w] = [outH, outW];
      }
    }
    planesIn = planes;
  });
  n.linear(8 * w, dim).linear(dim, numClasses);
  byModule.netclass = n.parameters;

  return {
    parameters: a.parameters + m.parameters + n.parameters,
    unusedParameters: unused,
    byModule,
    macs: a.macs + m.macs + n.macs,
  };
}
