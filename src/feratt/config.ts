/**
 * FERAtt's configuration and the architecture's fixed numbers, without any GPU code (info.ts counts
 * from them). See model.ts for what they mean.
 */
import type { Generator } from '../engine/random.js';

/** ResNet-34's block counts per stage. */
export const RESNET34_BLOCKS = [3, 4, 6, 3] as const;
/** Outputs of ResNet-34's classifier `fc` (ImageNet's classes), which FERAtt keeps but never runs. */
export const RESNET_FC_OUTPUTS = 1000;
/** The classifier's fixed average pools: of the attended face (F.avg_pool2d(att, 4)) and of layer4's map. */
export const CLASSIFIER_POOL = 4;

export interface FERAttConfig {
  /** Image channels C (3 officially). */
  inChannels?: number;
  numClasses?: number;
  /** Size of the embedding z (64 officially). */
  dim?: number;
  /** Input [H, W], or one number for a square input: each side 128 (official), 192, or 64 (ours). */
  inputSize?: number | readonly [number, number];
  /** ResNet-34 base width w (64 officially); an even number. Every other width scales by w/64. */
  width?: number;
  /** Probability that a training forward feeds `clean` to the classifier (0.2 officially). */
  cleanProbability?: number;
  /** Source of that draw (default: a Generator seeded with 0). */
  generator?: Generator;
}

export interface FERAttResolvedConfig {
  inChannels: number;
  numClasses: number;
  dim: number;
  inputSize: [number, number];
  width: number;
}

/** The official input side, the other side the architecture admits, and ours (64, see model.ts's header). */
export const FERATT_INPUT_SIZES = [64, 128, 192] as const;

export function resolveFERAttConfig(config: FERAttConfig = {}): FERAttResolvedConfig {
  const size = config.inputSize ?? 128;
  const c: FERAttResolvedConfig = {
    inChannels: config.inChannels ?? 3,
    numClasses: config.numClasses ?? 8,
    dim: config.dim ?? 64,
    inputSize: typeof size === 'number' ? [size, size] : [size[0], size[1]],
    width: config.width ?? 64,
  };
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`FERAtt: ${name} must be a positive integer, got ${String(v)}`);
  };
  positive('inChannels', c.inChannels);
  positive('dim', c.dim);
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2) throw new Error(`FERAtt: numClasses must be an integer >= 2, got ${String(c.numClasses)}`);
  if (!Number.isInteger(c.width) || c.width < 2 || c.width % 2) {
    throw new Error(`FERAtt: width must be an even integer >= 2 (decoder and feature filters are width/2), got ${String(c.width)}`);
  }
  if (typeof size !== 'number' && (!Array.isArray(size) || size.length !== 2)) {
    throw new Error(`FERAtt: inputSize must be a number or [H, W], got ${JSON.stringify(size)}`);
  }
  for (const side of c.inputSize) {
    if (!(FERATT_INPUT_SIZES as readonly number[]).includes(side)) {
      throw new Error(
        `FERAtt: inputSize [${c.inputSize}] is not supported: each side must be 128 (official), 192, or 64 (ours). ` +
          'The attention encoder-decoder needs multiples of 64, and the classifier\'s fixed 4x4 average pool ' +
          'of its layer4 map (side/32) must give 1x1 for Linear(8·width, dim) (at 64 the pool covers the 2x2 map)',
      );
    }
  }
  return c;
}

