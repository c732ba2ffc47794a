/**
 * Deterministic corruptions for robustness evaluation, on [0, 1] images before normalisation:
 * occluded eyes or mouth (black boxes at fixed fractions of the image, for aligned faces), a seeded
 * random patch, and rotation by a given angle.
 */
import { Generator } from '../../engine/random.js';
import { fillBox } from './augment.js';
import { checkImage, rotate, type Shape } from './warp.js';

/** A box in fractions of the image: rows [top, bottom), columns [left, right). */
export interface Region {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Eye band: above PCNN's eye/cheek boundary at 0.5 H. Mouth: PCNN's mouth crop starts at 0.65 H. */
export const EYES: Region = { top: 0.2, bottom: 0.5, left: 0.1, right: 0.9 };
export const MOUTH: Region = { top: 0.65, bottom: 0.95, left: 0.2, right: 0.8 };

/** Sets `region` (rounded to whole pixels) to `value` in every channel. */
export function occludeRegion(image: Float32Array, shape: Shape, region: Region, value = 0): Float32Array {
  checkImage('occludeRegion', image, shape);
  const { top, bottom, left, right } = region;
  if (!(0 <= top && top < bottom && bottom <= 1 && 0 <= left && left < right && right <= 1)) {
    throw new Error(`occludeRegion: region must satisfy 0 <= top < bottom <= 1 and 0 <= left < right <= 1, got ${JSON.stringify(region)}`);
  }
  const [, h, w] = shape;
  const y0 = Math.round(top * h);
  const x0 = Math.round(left * w);
  return fillBox(image, shape, { top: y0, left: x0, height: Math.round(bottom * h) - y0, width: Math.round(right * w) - x0 }, value);
}

export const occludeEyes = (image: Float32Array, shape: Shape, value = 0) => occludeRegion(image, shape, EYES, value);
export const occludeMouth = (image: Float32Array, shape: Shape, value = 0) => occludeRegion(image, shape, MOUTH, value);

/** A square of side round(fraction * min(H, W)) at a position drawn from `seed` (e.g. mixSeed(seed, index) for one patch per test image). */
export function occludePatch(image: Float32Array, shape: Shape, fraction: number, seed: number, value = 0): Float32Array {
  checkImage('occludePatch', image, shape);
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`occludePatch: fraction must be in (0, 1], got ${fraction}`);
  const [, h, w] = shape;
  const side = Math.max(1, Math.round(fraction * Math.min(h, w)));
  const g = new Generator(seed);
  return fillBox(image, shape, { top: g.int(h - side + 1), left: g.int(w - side + 1), height: side, width: side }, value);
}

/** Rotation by a fixed angle (counter-clockwise, degrees), bilinear, zero outside. */
export function rotateBy(image: Float32Array, shape: Shape, degrees: number): Float32Array {
  return rotate(image, shape, degrees, 'bilinear');
}
