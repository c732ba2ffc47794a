/**
 * Training augmentation, PCNN's recipe with torchvision's semantics, as pure functions of Float32
 * [C, H, W] images and a seeded Generator (src/engine/random.ts):
 *   RandomHorizontalFlip(0.5)
 *   RandomApply([RandomRotation(20), RandomCrop(size, padding=32 at 224 scaled to size)], p=0.2)
 *   Normalize(mean 0.5, std 0.5)
 *   RandomErasing(p=0.5, scale=(0.02, 0.25), ratio=(0.3, 3.3), value=0)
 */
import type { Generator } from '../../engine/random.js';
import { checkImage, rotate, roundHalfEven, translate, type Shape } from './warp.js';

export type { Shape };

/** Mirrors every row (exact: a permutation of the values). */
export function hflip(image: Float32Array, shape: Shape): Float32Array {
  checkImage('hflip', image, shape);
  const w = shape[2];
  const out = new Float32Array(image.length);
  for (let row = 0; row < image.length; row += w) {
    for (let x = 0; x < w; x++) out[row + x] = image[row + w - 1 - x];
  }
  return out;
}

/** (x - mean[c]) / std[c] per channel; one value applies to every channel. */
export function normalize(image: Float32Array, shape: Shape, mean: number | readonly number[] = 0.5, std: number | readonly number[] = 0.5): Float32Array {
  checkImage('normalize', image, shape);
  const [channels, h, w] = shape;
  const perChannel = (v: number | readonly number[], what: string) => {
    const values = typeof v === 'number' ? Array(channels).fill(v) : [...v];
    if (values.length !== channels) throw new Error(`normalize: ${what} has ${values.length} values for ${channels} channels`);
    return values;
  };
  const m = perChannel(mean, 'mean');
  const s = perChannel(std, 'std');
  if (s.some((x) => !(x > 0))) throw new Error(`normalize: std must be positive, got [${s}]`);
  const out = new Float32Array(image.length);
  for (let c = 0; c < channels; c++) {
    for (let p = c * h * w; p < (c + 1) * h * w; p++) out[p] = (image[p] - m[c]) / s[c];
  }
  return out;
}

export interface ErasingOptions {
  p?: number;
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  value?: number;
}

/** The rectangle RandomErasing.get_params picks: up to 10 tries, or null when none fits. */
export function erasingBox(g: Generator, height: number, width: number, scale: readonly [number, number] = [0.02, 0.25], ratio: readonly [number, number] = [0.3, 3.3]) {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * g.uniform(scale[0], scale[1]);
    const aspect = Math.exp(g.uniform(logRatio[0], logRatio[1]));
    const h = roundHalfEven(Math.sqrt(eraseArea * aspect));
    const w = roundHalfEven(Math.sqrt(eraseArea / aspect));
    if (!(h < height && w < width)) continue;
    return { top: g.int(height - h + 1), left: g.int(width - w + 1), height: h, width: w };
  }
  return null;
}

/** torchvision's RandomErasing with a constant value: with probability p, one box set to `value` in every channel. */
export function randomErasing(image: Float32Array, shape: Shape, g: Generator, { p = 0.5, scale = [0.02, 0.25], ratio = [0.3, 3.3], value = 0 }: ErasingOptions = {}): Float32Array {
  checkImage('randomErasing', image, shape);
  if (!(scale[0] >= 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new Error(`randomErasing: scale must satisfy 0 <= min <= max <= 1, got [${scale}]`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new Error(`randomErasing: ratio must satisfy 0 < min <= max, got [${ratio}]`);
  if (!(g.random() < p)) return image;
  const box = erasingBox(g, shape[1], shape[2], scale, ratio);
  if (!box) return image;
  return fillBox(image, shape, box, value);
}

/** A copy of `image` with rows [top, top + height) x columns [left, left + width) set to `value` in every channel. */
export function fillBox(image: Float32Array, shape: Shape, box: { top: number; left: number; height: number; width: number }, value: number): Float32Array {
  const [channels, h, w] = shape;
  const out = image.slice();
  for (let c = 0; c < channels; c++) {
    for (let y = Math.max(0, box.top); y < Math.min(h, box.top + box.height); y++) {
      const row = (c * h + y) * w;
      out.fill(value, row + Math.max(0, box.left), row + Math.min(w, box.left + box.width));
    }
  }
  return out;
}

export interface AugmentOptions {
  flip?: boolean;
  /** Probability of applying rotation and crop together (0.2). */
  geometricP?: number;
  /** Maximal rotation in degrees (20). */
  degrees?: number;
  /** Padding of the random crop; default round(32 * H / 224), the paper's 32 at 224 (7 at 48). */
  cropPadding?: number;
  mean?: number | readonly number[];
  std?: number | readonly number[];
  /** RandomErasing options, or false to leave it out. */
  erasing?: ErasingOptions | false;
}

/** The paper's training transform; returns a new normalised image, the input is not modified. */
export function augment(image: Float32Array, shape: Shape, g: Generator, options: AugmentOptions = {}): Float32Array {
  checkImage('augment', image, shape);
  const { flip = true, geometricP = 0.2, degrees = 20, mean = 0.5, std = 0.5, erasing = {} } = options;
  const padding = options.cropPadding ?? Math.round((32 * shape[1]) / 224);
  let x = image;
  if (flip && g.random() < 0.5) x = hflip(x, shape);
  if (g.random() < geometricP) {
    x = rotate(x, shape, g.uniform(-degrees, degrees), 'nearest');
    x = translate(x, shape, g.int(2 * padding + 1) - padding, g.int(2 * padding + 1) - padding);
  }
  x = normalize(x, shape, mean, std);
  return erasing === false ? x : randomErasing(x, shape, g, erasing);
}

/** Evaluation transform: normalisation only. */
export function evalTransform(image: Float32Array, shape: Shape, { mean = 0.5, std = 0.5 }: Pick<AugmentOptions, 'mean' | 'std'> = {}): Float32Array {
  return normalize(image, shape, mean, std);
}
