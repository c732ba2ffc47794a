/**
 * Training data for FERAtt: faces composited onto backgrounds, with the clean face as the target of the
 * attention/reconstruction branch.
 *
 * Following FERAtt's generator (pedrodiamel/ferattention, branch cvprw: torchlib/transforms/ferrender.py,
 * torchlib/datasets/fersynthetic.py, train.py, aug.py, and pytvision's transforms they call):
 *  - the face fills a canvas with a margin (a 128-pixel face padded by 10: 148, then resized to the
 *    128-pixel input; here the face spans 128/148 of the output, `padding` 10/148 on each side);
 *  - face and background ranges are stretched per channel, (x - min) / max (ferrender's `norm`; the face
 *    over its mask) (`rangeNorm`);
 *  - the same random geometry moves face and mask: scale 1 ± 0.2 about the centre, horizontal flip
 *    (p 0.5), rotation up to ±30° about the centre, translation up to ±0.2 of the side, and an affine
 *    warp moving three corners (top-left, bottom-left, top-right) by up to ±0.1 of the side each (the
 *    issue calls it projective; pytvision's is cv2.getAffineTransform), drawn in that order, applied in
 *    that order, zero outside the face;
 *  - illumination matched in CIE Lab (skimage's rgb2lab / lab2rgb: sRGB, D65, 2° observer): the face's
 *    lightness L is scaled by ratio = mean L(background) / (mean L(face) + eps), both means over the
 *    transformed face mask, the ratio clipped to [0.5, 1.5], L clipped to [10, 90], a and b kept;
 *  - composite = background (1 - mask) + mask * illuminated face, then grayscale (ITU-R 601 luma)
 *    replicated to the model's 3 channels (fersynthetic: to_gray, to_channels(3));
 *  - the target ("x_org") is the transformed face before the illumination change, times the transformed
 *    mask, black elsewhere, in the same gray-replicated channels; the label is the face's;
 *  - on the composite only (aug.py's get_transforms_aug; the target gets resize and /255 only): each with
 *    p 0.75 brightness (x alpha, alpha 1 ± 0.25, clipped to the image's max), contrast (1 ± 0.25) and
 *    gamma (x^(1/gamma), gamma 1 ± 0.25); with p 0.25 noise N(0, 0.05) on the lightness then a Gaussian
 *    blur of window 3, 5 or 7 (OpenCV's sigma-0 kernels, reflect-101 border); values in [0, 1] (/255);
 *  - class-balanced sampling (SecuencialSyntheticFaceDataset): sample i is a face of class i mod K drawn
 *    uniformly from that class, so an epoch (any order of 0..count-1) holds each class count/K times;
 *    `sampling: 'sequential'` is SyntheticFaceDataset's face i mod N.
 *
 * Ours:
 *  - backgrounds are procedural (backgrounds.ts: gradients, fractal value noise, clutter of shapes,
 *    stripes and checkers, plain noise) instead of COCO, which is not available here; a folder of the
 *    user's images (backgroundFolder) can replace or join them;
 *  - masks: the built-in synthetic faces carry their exact mask (syntheticDataset({ masks: true })); real
 *    faces (CK+48, FER2013, RAF-DB) have no landmarks here (FERAtt's dark datasets were cut out along the
 *    convex hull of 68 landmarks), so they get an ellipse inscribed in the crop, FACE_ELLIPSE (centre
 *    (0.5, 0.5), semi-axes 0.42 W and 0.5 H: brows to chin and cheek to cheek of these tight crops, the
 *    corners with hair and background left out), or a mask the caller provides. Masks may be soft (0..1):
 *    the composite blends by the mask, the means of the illumination match are mask-weighted (the same as
 *    the official means for a binary mask), and the mask is resampled bilinearly where the official one is
 *    warped nearest-neighbour, then closed, eroded (7x7) and hole-filled (`filtermask`, which cleans the
 *    thresholded masks of the dark datasets and is not needed for exact or analytic ones);
 *  - the whole geometry (margin, scale, flip, rotation, translation, warp, final resize) is one affine map
 *    resampled once, bilinearly, at the output size; the official warps four times at 148 pixels and
 *    resizes to 128; everything stays in float (no 8-bit rounding between steps), and the background is
 *    drawn at the output size;
 *  - contrast is alpha (x - mean) + mean; pytvision adds 3 (1 - alpha) mean instead, a factor 3 carried
 *    over from code whose "gray" was one of three weighted channel terms;
 *  - a face without any mask pixel keeps ratio 1 (the official mean of nothing is NaN);
 *  - randomness is seeded per sample: sample (epoch, index) of seed s uses streams of mixSeed(s, epoch,
 *    index, ...) for the face, the background, the geometry and the jitter, so it is the same whatever the
 *    order, the batch or the worker that asks for it.
 */
import { Generator } from '../../engine/random.js';
import { mixSeed } from './seed.js';
import type { Sample } from './types.js';
import { sampleAt, type Dataset } from './loader.js';
import type { Shape } from './warp.js';
import { mixedBackgrounds, proceduralBackgrounds, type BackgroundSource } from './backgrounds.js';

// ---------------------------------------------------------------- CIE Lab (skimage's constants)

const XYZ_FROM_RGB = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
const RGB_FROM_XYZ = invert3(XYZ_FROM_RGB);
/** D65, 2° observer: skimage's default illuminant. */
const WHITE = [0.95047, 1, 1.08883];

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

const linearize = (c: number) => (c > 0.04045 ? ((c + 0.055) / 1.055) ** 2.4 : c / 12.92);
const delinearize = (c: number) => (c > 0.0031308 ? 1.055 * c ** (1 / 2.4) - 0.055 : 12.92 * c);
const labF = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
const labFInverse = (t: number) => (t > 0.2068966 ? t * t * t : (t - 16 / 116) / 7.787);

/** sRGB in [0, 1] to CIE L*a*b* (D65), as skimage.color.rgb2lab, in float64. Writes and returns `out`. */
export function rgbToLab(r: number, g: number, b: number, out: Float64Array = new Float64Array(3)): Float64Array {
  const R = linearize(r);
  const G = linearize(g);
  const B = linearize(b);
  const m = XYZ_FROM_RGB;
  const fx = labF((m[0][0] * R + m[0][1] * G + m[0][2] * B) / WHITE[0]);
  const fy = labF((m[1][0] * R + m[1][1] * G + m[1][2] * B) / WHITE[1]);
  const fz = labF((m[2][0] * R + m[2][1] * G + m[2][2] * B) / WHITE[2]);
  out[0] = 116 * fy - 16;
  out[1] = 500 * (fx - fy);
  out[2] = 200 * (fy - fz);
  return out;
}

/** CIE L*a*b* (D65) to sRGB, as skimage.color.lab2rgb: negative z clipped to 0, RGB clipped to [0, 1]. */
export function labToRgb(L: number, a: number, b: number, out: Float64Array = new Float64Array(3)): Float64Array {
  const fy = (L + 16) / 116;
  const fx = a / 500 + fy;
  const fz = Math.max(0, fy - b / 200);
  const X = labFInverse(fx) * WHITE[0];
  const Y = labFInverse(fy) * WHITE[1];
  const Z = labFInverse(fz) * WHITE[2];
  const m = RGB_FROM_XYZ;
  for (let c = 0; c < 3; c++) {
    const v = delinearize(m[c][0] * X + m[c][1] * Y + m[c][2] * Z);
    out[c] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

// ---------------------------------------------------------------- illumination

/** FERAtt's lightness ratio: background / (face + eps) (numpy's float64 eps), clipped to `range`. */
export function illuminationRatio(faceLightness: number, backgroundLightness: number, range: readonly [number, number] = [0.5, 1.5]): number {
  checkRange('illuminationRatio', 'range', range);
  const ratio = backgroundLightness / (faceLightness + Number.EPSILON);
  return ratio < range[0] ? range[0] : ratio > range[1] ? range[1] : ratio;
}

export interface IlluminationMatch {
  /** The face, RGB [3, H, W], with L scaled by `ratio` and clipped to [10, 90] where the mask is > 0. */
  image: Float32Array;
  ratio: number;
  /** Mask-weighted mean L of the face and of the background under the mask. */
  faceLightness: number;
  backgroundLightness: number;
}

/**
 * ferrender's `ligthnorm`: the face's Lab lightness scaled by the clipped ratio of the background's mean
 * L to the face's, both under the mask; L clipped to [10, 90]; back to RGB. Pixels where the mask is 0
 * are returned as they are (they do not show in the composite). No mask pixel: ratio 1.
 */
export function matchIllumination(face: Float32Array, mask: Float32Array, background: Float32Array, range: readonly [number, number] = [0.5, 1.5]): IlluminationMatch {
  const plane = mask.length;
  if (face.length !== 3 * plane || background.length !== 3 * plane) {
    throw new Error(`matchIllumination: face (${face.length} values) and background (${background.length}) must both be RGB [3, H, W] over the mask's ${plane} pixels`);
  }
  checkRange('matchIllumination', 'range', range);
  const lab = new Float64Array(3);
  const faceLab = new Float64Array(3 * plane);
  let [weight, faceSum, backSum] = [0, 0, 0];
  for (let p = 0; p < plane; p++) {
    const m = mask[p];
    if (!(m > 0)) continue;
    rgbToLab(face[p], face[plane + p], face[2 * plane + p], lab);
    faceLab.set(lab, 3 * p);
    const backL = rgbToLab(background[p], background[plane + p], background[2 * plane + p])[0];
    weight += m;
    faceSum += m * lab[0];
    backSum += m * backL;
  }
  const image = face.slice();
  if (!(weight > 0)) return { image, ratio: 1, faceLightness: NaN, backgroundLightness: NaN };
  const faceLightness = faceSum / weight;
  const backgroundLightness = backSum / weight;
  const ratio = illuminationRatio(faceLightness, backgroundLightness, range);
  for (let p = 0; p < plane; p++) {
    if (!(mask[p] > 0)) continue;
    const L = Math.min(90, Math.max(10, faceLab[3 * p] * ratio));
    labToRgb(L, faceLab[3 * p + 1], faceLab[3 * p + 2], lab);
    for (let c = 0; c < 3; c++) image[c * plane + p] = lab[c];
  }
  return { image, ratio, faceLightness, backgroundLightness };
}

// ---------------------------------------------------------------- masks

/** An ellipse in fractions of the image: centre (cx W, cy H), semi-axes rx W and ry H. */
export interface FaceEllipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/** The default mask of real faces (no landmarks): inscribed in the crop, a little narrower than it. */
export const FACE_ELLIPSE: Readonly<FaceEllipse> = Object.freeze({ cx: 0.5, cy: 0.5, rx: 0.42, ry: 0.5 });

/** Float32 [height, width]: the ellipse's coverage of each pixel, antialiased over one pixel. */
export function ellipseMask(height: number, width: number, ellipse: FaceEllipse = FACE_ELLIPSE): Float32Array {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new Error(`ellipseMask: height and width must be positive integers, got ${height}x${width}`);
  }
  checkEllipse('ellipseMask', ellipse);
  const [cx, cy, rx, ry] = [ellipse.cx * width, ellipse.cy * height, ellipse.rx * width, ellipse.ry * height];
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = (Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry) - 1) * Math.min(rx, ry);
      out[y * width + x] = Math.min(1, Math.max(0, 0.5 - d));
    }
  }
  return out;
}

function checkEllipse(what: string, e: FaceEllipse): void {
  const ok = e && [e.cx, e.cy, e.rx, e.ry].every(Number.isFinite) && e.rx > 0 && e.ry > 0;
  if (!ok) throw new Error(`${what}: an ellipse must be { cx, cy, rx, ry } (fractions of the image, rx and ry > 0), got ${JSON.stringify(e)}`);
}

/**
 * ferrender's `norm`, per channel: (x - min) / max with min and max over the mask's pixels (mask >= 0.5;
 * all pixels without a mask), clamped to [0, 1] (outside the mask the shift can go below 0). A channel
 * whose max is 0 is left as it is.
 */
export function rangeNorm(image: Float32Array, channels: number, mask?: Float32Array): Float32Array {
  const plane = image.length / channels;
  if (!Number.isInteger(plane) || (mask && mask.length !== plane)) {
    throw new Error(`rangeNorm: ${image.length} values are not ${channels} planes${mask ? ` of the mask's ${mask.length} pixels` : ''}`);
  }
  const out = image.slice();
  for (let c = 0; c < channels; c++) {
    let [min, max] = [Infinity, -Infinity];
    for (let p = 0; p < plane; p++) {
      if (mask && !(mask[p] >= 0.5)) continue;
      const v = image[c * plane + p];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!(max > 0)) continue;
    for (let p = c * plane; p < (c + 1) * plane; p++) out[p] = Math.min(1, Math.max(0, (image[p] - min) / max));
  }
  return out;
}

// ---------------------------------------------------------------- geometry

/** Affine map [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Affine = readonly [number, number, number, number, number, number];

/** p ∘ q: q first. */
function compose(p: Affine, q: Affine): Affine {
  return [
    p[0] * q[0] + p[1] * q[3], p[0] * q[1] + p[1] * q[4], p[0] * q[2] + p[1] * q[5] + p[2],
    p[3] * q[0] + p[4] * q[3], p[3] * q[1] + p[4] * q[4], p[3] * q[2] + p[4] * q[5] + p[5],
  ];
}

function invert(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  const [a, b, d, e] = [m[4] / det, -m[1] / det, -m[3] / det, m[0] / det];
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

export interface GeometryOptions {
  /** Scale 1 ± scale about the centre (0.2). */
  scale?: number;
  /** Horizontal flip with probability 0.5 (true). */
  flip?: boolean;
  /** Rotation uniform in ±degrees about the centre (30). */
  degrees?: number;
  /** Translation uniform in ±translation of the side, each axis (0.2). */
  translation?: number;
  /** Affine warp: three corners each moved by up to ±warp of the side per axis (0.1). */
  warp?: number;
  /** Margin around the face on each side, as a fraction of the output (10 / 148). */
  padding?: number;
}

const GEOMETRY_DEFAULTS: Required<GeometryOptions> = { scale: 0.2, flip: true, degrees: 30, translation: 0.2, warp: 0.1, padding: 10 / 148 };

/**
 * The random forward map of the face canvas onto the output, on coordinates in fractions of the side
 * (0..1): warp ∘ translation ∘ rotation ∘ flip ∘ scale, with ferrender's draw order (scale factor, flip,
 * angle, x and y offsets, three x then three y corner offsets). Every value is drawn whatever the
 * options, so turning one off leaves the others as they were.
 */
export function randomGeometry(g: Generator, options: GeometryOptions = {}): Affine {
  const o = { ...GEOMETRY_DEFAULTS, ...options };
  const factor = 1 + o.scale * g.uniform(-1, 1);
  const flip = g.random() < 0.5 && o.flip;
  const theta = (g.uniform(-o.degrees, o.degrees) * Math.PI) / 180;
  const tx = o.translation * g.uniform(-1, 1);
  const ty = o.translation * g.uniform(-1, 1);
  const ox = [0, 1, 2].map(() => o.warp * g.uniform(-1, 1));
  const oy = [0, 1, 2].map(() => o.warp * g.uniform(-1, 1));
  const [cos, sin] = [Math.cos(theta), Math.sin(theta)];
  const S: Affine = [factor, 0, 0.5 * (1 - factor), 0, factor, 0.5 * (1 - factor)];
  const F: Affine = flip ? [-1, 0, 1, 0, 1, 0] : [1, 0, 0, 0, 1, 0];
  const R: Affine = [cos, -sin, 0.5 - 0.5 * cos + 0.5 * sin, sin, cos, 0.5 - 0.5 * sin - 0.5 * cos];
  const T: Affine = [1, 0, tx, 0, 1, ty];
  // (0,0) -> (ox0, oy0), (0,1) -> (ox1, 1 + oy1), (1,0) -> (1 + ox2, oy2), as cv2.getAffineTransform.
  const W: Affine = [1 + ox[2] - ox[0], ox[1] - ox[0], ox[0], oy[2] - oy[0], 1 + oy[1] - oy[0], oy[0]];
  return compose(W, compose(T, compose(R, compose(F, S))));
}

/**
 * Output pixel coordinates to face pixel coordinates (both with pixel centres at +0.5) for a forward
 * canvas map `geometry`, an output of side `size` and a face of [height, width] inside `padding`.
 */
export function outputToFace(geometry: Affine, size: number, height: number, width: number, padding: number): Affine {
  const toCanvas: Affine = [1 / size, 0, 0, 0, 1 / size, 0];
  const span = 1 - 2 * padding;
  const toFace: Affine = [width / span, 0, (-padding * width) / span, 0, height / span, (-padding * height) / span];
  return compose(toFace, compose(invert(geometry), toCanvas));
}

// ---------------------------------------------------------------- composite-only jitter

export interface JitterOptions {
  /** Probability of each of brightness, contrast and gamma (0.75). */
  p?: number;
  /** Factors 1 ± these (0.25 each). */
  brightness?: number;
  contrast?: number;
  gamma?: number;
  /** Probability of the noise-and-blur step (0.25) and its noise sigma on lightness/100 (0.05). */
  blurP?: number;
  blurNoise?: number;
}

const JITTER_DEFAULTS: Required<JitterOptions> = { p: 0.75, brightness: 0.25, contrast: 0.25, gamma: 0.25, blurP: 0.25, blurNoise: 0.05 };

/** OpenCV's fixed kernels for GaussianBlur(ksize, sigma 0) at sizes 3, 5 and 7. */
const SMALL_GAUSSIAN: Record<number, number[]> = {
  3: [0.25, 0.5, 0.25],
  5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
  7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
};

/** cv2.GaussianBlur(plane, (ksize, ksize), 0) for ksize 3, 5, 7: separable, BORDER_REFLECT_101. */
export function gaussianBlur(plane: Float32Array, height: number, width: number, ksize: 3 | 5 | 7): Float32Array {
  const kernel = SMALL_GAUSSIAN[ksize];
  if (!kernel) throw new Error(`gaussianBlur: ksize must be 3, 5 or 7, got ${ksize}`);
  if (plane.length !== height * width) throw new Error(`gaussianBlur: ${plane.length} values are not ${height}x${width}`);
  const r = (ksize - 1) / 2;
  // Reflected indices (BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...), one table per axis.
  const table = (n: number) =>
    Int32Array.from({ length: n + 2 * r }, (_, j) => {
      let i = j - r;
      if (n === 1) return 0;
      while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
      return i;
    });
  const xs = table(width);
  const ys = table(height);
  const across = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < ksize; k++) sum += kernel[k] * plane[row + xs[x + k]];
      across[row + x] = sum;
    }
  }
  const out = new Float32Array(plane.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < ksize; k++) sum += kernel[k] * across[ys[y + k] * width + x];
      out[y * width + x] = sum;
    }
  }
  return out;
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * aug.py's colour steps on one gray plane (the composite, never the target), in its order and draws:
 * brightness, contrast, gamma (each with probability p), then noise on the lightness and a blur.
 */
export function jitterComposite(plane: Float32Array, height: number, width: number, g: Generator, options: JitterOptions = {}): Float32Array {
  const o = { ...JITTER_DEFAULTS, ...options };
  let x: Float32Array = plane.slice();
  const maxOf = (a: Float32Array) => a.reduce((m, v) => (v > m ? v : m), 0);
  if (g.random() < o.p) {
    const alpha = 1 + o.brightness * g.uniform(-1, 1);
    const max = maxOf(x);
    for (let i = 0; i < x.length; i++) x[i] = Math.min(max, Math.max(0, alpha * x[i]));
  }
  if (g.random() < o.p) {
    const alpha = 1 + o.contrast * g.uniform(-1, 1);
    const max = maxOf(x);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    for (let i = 0; i < x.length; i++) x[i] = Math.min(max, Math.max(0, alpha * (x[i] - mean) + mean));
  }
  if (g.random() < o.p) {
    const gamma = 1 + o.gamma * g.uniform(-1, 1);
    for (let i = 0; i < x.length; i++) x[i] = x[i] ** (1 / gamma);
  }
  if (g.random() < o.blurP) {
    // pytvision adds the noise to OpenCV's 8-bit L (L* 255/100) over 255: sigma on L*/100. A gray pixel's
    // L* is 116 f(Y) - 16 with Y its linearised value (the Y row of the sRGB matrix sums to 1); its a*, b*
    // (below 1e-4) are taken as 0, so the pixel stays gray.
    for (let i = 0; i < x.length; i += 2) {
      const pair = g.normalPair(o.blurNoise);
      for (let k = 0; k < 2 && i + k < x.length; k++) {
        const L = 116 * labF(linearize(x[i + k])) - 16 + 100 * pair[k];
        const Y = labFInverse((Math.min(100, Math.max(0, L)) + 16) / 116);
        const v = delinearize(Y);
        x[i + k] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
    x = gaussianBlur(x, height, width, (3 + 2 * g.int(3)) as 3 | 5 | 7);
  }
  return x;
}

// ---------------------------------------------------------------- one composite

export interface CompositeParts {
  /** Composite, [channels, size, size] in [0, 1]. */
  image: Float32Array;
  /** Target: the transformed face times the transformed mask, 0 elsewhere, [channels, size, size]. */
  clean: Float32Array;
  /** The transformed face mask, [size, size] in [0, 1]. */
  mask: Float32Array;
  /** The illumination ratio applied (1 with illumination off). */
  ratio: number;
  /** Output pixel -> face pixel coordinates (pixel centres at +0.5) of the resampling. */
  transform: Affine;
}

export interface ComposeOptions {
  size?: number;
  channels?: number;
  padding?: number;
  illumination?: boolean;
  ratioRange?: readonly [number, number];
  rangeNorm?: boolean;
  jitter?: JitterOptions | false;
}

/**
 * One composite of `face` ([C, H, W], C 1 or 3, in [0, 1]) with `faceMask` ([H, W]) on `background`
 * (RGB [3, size, size]) under the forward canvas map `geometry` (randomGeometry); `g` drives the jitter.
 */
export function composeFace(face: Float32Array, faceShape: Shape, faceMask: Float32Array, background: Float32Array, geometry: Affine, g: Generator, options: ComposeOptions = {}): CompositeParts {
  const { size = 128, channels = 3, padding = GEOMETRY_DEFAULTS.padding, illumination = true, ratioRange = [0.5, 1.5], rangeNorm: stretch = true, jitter = {} } = options;
  const [fc, fh, fw] = faceShape;
  const plane = size * size;
  if ((fc !== 1 && fc !== 3) || face.length !== fc * fh * fw) throw new Error(`composeFace: face of ${face.length} values does not match shape [${faceShape}] (C 1 or 3)`);
  if (faceMask.length !== fh * fw) throw new Error(`composeFace: mask of ${faceMask.length} values does not match the face's ${fh}x${fw}`);
  if (background.length !== 3 * plane) throw new Error(`composeFace: background of ${background.length} values is not RGB [3, ${size}, ${size}]`);

  const src = stretch ? rangeNorm(face, fc, faceMask) : face;
  const back = stretch ? rangeNorm(background, 3) : background;
  const transform = outputToFace(geometry, size, fh, fw, padding);
  const [a, b, c, d, e, f] = transform;
  const facePlane = fh * fw;
  const alpha = new Float32Array(plane);
  const warped = new Float32Array(3 * plane);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = a * (x + 0.5) + b * (y + 0.5) + c - 0.5;
      const sy = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= fw || y0 >= fh) continue;
      const tx = sx - x0;
      const ty = sy - y0;
      const p = y * size + x;
      // Bilinear with zero padding: taps outside the face count 0 (mask and face alike).
      for (let k = 0; k < 4; k++) {
        const xi = x0 + (k & 1);
        const yi = y0 + (k >> 1);
        if (xi < 0 || yi < 0 || xi >= fw || yi >= fh) continue;
        const w = ((k & 1) ? tx : 1 - tx) * ((k >> 1) ? ty : 1 - ty);
        const i = yi * fw + xi;
        alpha[p] += w * faceMask[i];
        for (let ch = 0; ch < 3; ch++) warped[ch * plane + p] += w * src[(fc === 1 ? 0 : ch) * facePlane + i];
      }
    }
  }
  const lit = illumination ? matchIllumination(warped, alpha, back, ratioRange) : { image: warped, ratio: 1 };
  let composite: Float32Array = new Float32Array(plane);
  const cleanGray = new Float32Array(plane);
  const lt = lit.image;
  for (let p = 0; p < plane; p++) {
    const m = alpha[p];
    const [r, gr, bl] = [back[p], back[plane + p], back[2 * plane + p]];
    composite[p] = luma(r + m * (lt[p] - r), gr + m * (lt[plane + p] - gr), bl + m * (lt[2 * plane + p] - bl));
    cleanGray[p] = m > 0 ? m * luma(warped[p], warped[plane + p], warped[2 * plane + p]) : 0;
  }
  if (jitter !== false) composite = jitterComposite(composite, size, size, g, jitter);
  const replicate = (gray: Float32Array) => {
    const out = new Float32Array(channels * plane);
    for (let ch = 0; ch < channels; ch++) out.set(gray, ch * plane);
    return out;
  };
  return { image: replicate(composite), clean: replicate(cleanGray), mask: alpha, ratio: lit.ratio, transform };
}

// ---------------------------------------------------------------- the dataset

/** A face sample that may carry its own mask ([H, W] in [0, 1]): syntheticDataset({ masks: true }). */
export type MaskedSample = Sample & { mask?: Float32Array };

export type MaskSource = 'auto' | 'ellipse' | FaceEllipse | ((sample: Sample, face: number) => Float32Array);

export interface CompositeOptions extends GeometryOptions {
  seed?: number;
  /** Output side (128, FERAtt's input) and channels (3: gray replicated; or 1). */
  size?: number;
  channels?: number;
  /** Samples per epoch (default: the number of faces; FERAtt's training used 50000). */
  count?: number;
  /** 'balanced' (default): sample i is a random face of class i mod K; 'sequential': face i mod N. */
  sampling?: 'balanced' | 'sequential';
  /** Each face's label, when reading them from the samples would be slow (otherwise faces.label(i) or get(i).label). */
  labels?: ArrayLike<number>;
  /** Class names (default faces.classNames, else '0'..'K-1' up to the largest label). */
  classNames?: readonly string[];
  /** [C, H, W] of every face; by default each face's own, inferred from a square image of 1 or 3 channels. */
  faceShape?: Shape;
  /**
   * Where masks come from: 'auto' (default) a sample's own `mask`, else FACE_ELLIPSE; 'ellipse' always
   * FACE_ELLIPSE; an ellipse of yours; or a function giving Float32 [H, W] in [0, 1] per face.
   */
  mask?: MaskSource;
  /** Default: proceduralBackgrounds(); a list is drawn from uniformly. */
  backgrounds?: BackgroundSource | readonly BackgroundSource[];
  /** The Lab illumination match (true) and its ratio clip ([0.5, 1.5]). */
  illumination?: boolean;
  ratioRange?: readonly [number, number];
  /** ferrender's per-channel (x - min) / max of face and background (true). */
  rangeNorm?: boolean;
  /** Colour jitter and blur of the composite (aug.py's values), or false. */
  jitter?: JitterOptions | false;
}

export interface CompositeSample extends Sample {
  /** Composite, [channels, size, size] in [0, 1]. */
  image: Float32Array;
  /** Target: the transformed face, black outside its mask, [channels, size, size]. */
  clean: Float32Array;
  /** The transformed mask, [size, size]. */
  mask: Float32Array;
  /** Index of the face in `faces`. */
  face: number;
  ratio: number;
  transform: Affine;
}

export interface CompositeBatch {
  x: Float32Array;
  clean: Float32Array;
  mask: Float32Array;
  y: Int32Array;
  indices: Int32Array;
}

export interface CompositeDataset {
  readonly length: number;
  readonly classNames: string[];
  /** [channels, size, size] of image and clean. */
  readonly shape: Shape;
  /** Faces of each class (balanced sampling) or null. */
  readonly classCounts: readonly number[];
  /** Sample `index` of epoch `epoch`: a function of (seed, epoch, index) alone. */
  sample(epoch: number, index: number): CompositeSample;
  /** Epoch `epoch` as a Dataset (for DataLoader; its samples carry clean and mask too). */
  epoch(epoch: number): { readonly length: number; readonly classNames: string[]; get(index: number): CompositeSample };
  /** Rows `indices` of epoch `epoch` stacked: x, clean [B, C, size, size], mask [B, size, size], y [B]. */
  batch(epoch: number, indices: ArrayLike<number>): CompositeBatch;
}

const FACE_STREAM = 0x66616365;
const BACK_STREAM = 0x6261636b;
const GEOMETRY_STREAM = 0x67656f6d;
const JITTER_STREAM = 0x6a697474;

const WHAT = 'compositeDataset';

function fail(name: string, value: unknown, expected: string): never {
  const shown = typeof value === 'string' ? `'${value}'` : Array.isArray(value) ? `[${value}]` : typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value);
  throw new Error(`${WHAT}: ${name} must be ${expected}, got ${shown}`);
}

function checkRange(what: string, name: string, range: readonly [number, number]): void {
  if (!Array.isArray(range) || range.length !== 2 || !(range[0] > 0 && range[0] <= range[1] && Number.isFinite(range[1]))) {
    throw new Error(`${what}: ${name} must be [low, high] with 0 < low <= high, got ${Array.isArray(range) ? `[${range}]` : String(range)}`);
  }
}

function checkOptions(options: CompositeOptions) {
  const o = options as Record<string, unknown>;
  const known = new Set(['seed', 'size', 'channels', 'count', 'sampling', 'labels', 'classNames', 'faceShape', 'mask', 'backgrounds', 'illumination', 'ratioRange', 'rangeNorm', 'jitter', ...Object.keys(GEOMETRY_DEFAULTS)]);
  for (const key of Object.keys(o)) if (!known.has(key)) fail(`option '${key}'`, o[key], `one of ${[...known].join(', ')} (unknown option)`);
  const { seed = 0, size = 128, channels = 3, sampling = 'balanced', illumination = true, rangeNorm: stretch = true } = options;
  if (!Number.isSafeInteger(seed)) fail('seed', seed, 'an integer');
  if (!Number.isInteger(size) || size < 8) fail('size', size, 'an integer >= 8');
  if (channels !== 1 && channels !== 3) fail('channels', channels, '1 or 3');
  if (sampling !== 'balanced' && sampling !== 'sequential') fail('sampling', sampling, "'balanced' or 'sequential'");
  if (typeof illumination !== 'boolean') fail('illumination', illumination, 'true or false');
  if (typeof stretch !== 'boolean') fail('rangeNorm', stretch, 'true or false');
  const g = { ...GEOMETRY_DEFAULTS, ...options };
  if (!(g.scale >= 0 && g.scale < 1)) fail('scale', g.scale, 'in [0, 1) (scale factor 1 ± scale)');
  if (typeof g.flip !== 'boolean') fail('flip', g.flip, 'true or false');
  if (!(g.degrees >= 0 && g.degrees <= 180)) fail('degrees', g.degrees, 'in [0, 180]');
  if (!(g.translation >= 0 && g.translation <= 1)) fail('translation', g.translation, 'in [0, 1] (a fraction of the side)');
  if (!(g.warp >= 0 && g.warp <= 0.3)) fail('warp', g.warp, 'in [0, 0.3] (a fraction of the side per corner)');
  if (!(g.padding >= 0 && g.padding < 0.5)) fail('padding', g.padding, 'in [0, 0.5) (a fraction of the side)');
  const ratioRange = options.ratioRange ?? [0.5, 1.5];
  if (!Array.isArray(ratioRange) || ratioRange.length !== 2 || !(ratioRange[0] > 0 && ratioRange[0] <= ratioRange[1] && Number.isFinite(ratioRange[1]))) {
    fail('ratioRange', ratioRange, '[low, high] with 0 < low <= high');
  }
  const jitter = options.jitter ?? {};
  if (jitter !== false) {
    if (typeof jitter !== 'object' || jitter === null) fail('jitter', jitter, 'false or an object of jitter options');
    for (const [key, value] of Object.entries(jitter)) {
      if (!(key in JITTER_DEFAULTS)) fail(`jitter option '${key}'`, value, `one of ${Object.keys(JITTER_DEFAULTS).join(', ')} (unknown option)`);
      const v = value as number;
      if (key === 'p' || key === 'blurP') {
        if (!(v >= 0 && v <= 1)) fail(`jitter.${key}`, value, 'a probability in [0, 1]');
      } else if (key === 'blurNoise') {
        if (!(v >= 0 && Number.isFinite(v))) fail(`jitter.${key}`, value, 'a finite number >= 0');
      } else if (!(v >= 0 && v < 1)) {
        fail(`jitter.${key}`, value, 'in [0, 1) (factor 1 ± it)');
      }
    }
  }
  const mask = options.mask ?? 'auto';
  if (!(mask === 'auto' || mask === 'ellipse' || typeof mask === 'function')) {
    if (typeof mask !== 'object' || mask === null) fail('mask', mask, "'auto', 'ellipse', an ellipse { cx, cy, rx, ry } or a function (sample, face) => Float32Array");
    try {
      checkEllipse(WHAT, mask);
    } catch {
      fail('mask', mask, 'an ellipse { cx, cy, rx, ry } with finite fractions and rx, ry > 0');
    }
  }
  if (options.faceShape !== undefined) {
    const s = options.faceShape;
    if (!Array.isArray(s) || s.length !== 3 || !(s[0] === 1 || s[0] === 3) || !s.slice(1).every((n) => Number.isInteger(n) && n > 0)) {
      fail('faceShape', s, '[C, H, W] with C 1 or 3 and positive integers H, W');
    }
  }
  return { seed, size, channels, sampling, illumination, stretch, ratioRange: ratioRange as readonly [number, number], jitter: jitter as JitterOptions | false, mask, geometry: g };
}

/** A face's [C, H, W]: the given one, or a square image of 1 or 3 channels (with its mask, any rectangle). */
function shapeOf(sample: MaskedSample, face: number, mask: Float32Array | undefined, given: Shape | undefined): Shape {
  const n = sample.image.length;
  if (given) {
    if (n !== given[0] * given[1] * given[2]) throw new Error(`${WHAT}: face ${face} (${sample.file}) has ${n} values, expected faceShape [${given}]`);
    return given;
  }
  if (mask) {
    const c = n / mask.length;
    const side = Math.sqrt(mask.length);
    if ((c === 1 || c === 3) && Number.isInteger(side)) return [c, side, side];
  }
  for (const c of [1, 3]) {
    const side = Math.sqrt(n / c);
    if (Number.isInteger(side) && side > 0) return [c, side, side];
  }
  throw new Error(`${WHAT}: cannot tell the shape of face ${face} (${sample.file}) from its ${n} values (not a square image of 1 or 3 channels); pass faceShape [C, H, W]`);
}

/**
 * Faces composited onto backgrounds, with the clean face as target (FERAtt's training data; see the
 * header for what follows the official generator and what is ours). `faces` is any Dataset of [0, 1]
 * images of 1 or 3 channels; the default data is syntheticDataset({ count, size: 128, masks: true }),
 * whose exact masks come with its samples.
 */
/** Options that leave the generator's geometry and colour jitter out: faces pasted where they are, onto
 *  backgrounds, with the illumination match alone. */
export const STILL_COMPOSITES = { scale: 0, flip: false, degrees: 0, translation: 0, warp: 0, jitter: false } as const satisfies CompositeOptions;

export function compositeDataset(faces: Dataset, options: CompositeOptions = {}): CompositeDataset {
  if (!faces || typeof faces.length !== 'number' || !(Array.isArray(faces) || typeof (faces as { get?: unknown }).get === 'function')) {
    fail('faces', typeof faces, 'a Dataset (an array of samples, or { length, get(index) })');
  }
  if (faces.length === 0) fail('faces', '[] (no face)', 'a non-empty Dataset');
  const o = checkOptions(options);
  const count = options.count ?? faces.length;
  if (!Number.isInteger(count) || count < 1) fail('count', count, 'a positive integer');
  const getFace: (i: number) => MaskedSample = sampleAt(faces);
  const backgrounds = options.backgrounds === undefined ? proceduralBackgrounds() : Array.isArray(options.backgrounds) ? mixedBackgrounds(options.backgrounds) : (options.backgrounds as BackgroundSource);
  if (!backgrounds || typeof backgrounds.draw !== 'function') fail('backgrounds', backgrounds, 'a background source ({ name, draw(g, size) }) or a list of them');

  // Labels, for balanced sampling and class names.
  if (options.labels && options.labels.length !== faces.length) fail('labels', `${options.labels.length} labels`, `one per face (${faces.length})`);
  const labelOf = (faces as { label?: (i: number) => number }).label;
  const labels = Int32Array.from({ length: faces.length }, (_, i) => {
    const label = options.labels ? options.labels[i] : typeof labelOf === 'function' ? labelOf(i) : getFace(i).label;
    if (!Number.isInteger(label) || label < 0) fail(`label of face ${i}`, label, 'a non-negative integer');
    return label;
  });
  const maxLabel = labels.reduce((m, v) => Math.max(m, v), 0);
  const givenNames = options.classNames ?? (faces as { classNames?: readonly string[] }).classNames;
  if (givenNames !== undefined && (!Array.isArray(givenNames) || givenNames.length <= maxLabel)) {
    fail('classNames', givenNames, `a list of at least ${maxLabel + 1} names (labels go up to ${maxLabel})`);
  }
  const classNames = givenNames ? [...givenNames] : Array.from({ length: maxLabel + 1 }, (_, k) => String(k));
  const members: number[][] = classNames.map(() => []);
  labels.forEach((label, i) => members[label].push(i));
  const classCounts = members.map((m) => m.length);
  if (o.sampling === 'balanced') {
    const empty = classCounts.flatMap((n, k) => (n ? [] : [`${k} '${classNames[k]}'`]));
    if (empty.length) {
      throw new Error(`${WHAT}: balanced sampling needs a face of every class, but class ${empty.join(', ')} has none (of ${faces.length} faces); drop the class from classNames or use sampling: 'sequential'`);
    }
  }

  const ellipse = o.mask === 'auto' || o.mask === 'ellipse' ? FACE_ELLIPSE : typeof o.mask === 'object' ? o.mask : null;
  const ellipses = new Map<string, Float32Array>();
  const ellipseFor = (h: number, w: number) => {
    const key = `${h}x${w}`;
    let m = ellipses.get(key);
    if (!m) ellipses.set(key, (m = ellipseMask(h, w, ellipse ?? FACE_ELLIPSE)));
    return m;
  };
  const shape: Shape = [o.channels, o.size, o.size];

  const sample = (epoch: number, index: number): CompositeSample => {
    if (!Number.isSafeInteger(epoch) || epoch < 0) fail('epoch', epoch, 'a non-negative integer');
    if (!Number.isInteger(index) || index < 0 || index >= count) fail('index', index, `an integer in 0..${count - 1}`);
    const gFace = new Generator(mixSeed(o.seed, epoch, index, FACE_STREAM));
    let face: number;
    if (o.sampling === 'balanced') {
      const pool = members[index % classNames.length];
      face = pool[gFace.int(pool.length)];
    } else {
      face = index % faces.length;
    }
    const s = getFace(face);
    const own = o.mask === 'auto' ? s.mask : undefined;
    let faceShape = shapeOf(s, face, typeof o.mask === 'function' ? undefined : own, options.faceShape);
    let mask: Float32Array;
    if (typeof o.mask === 'function') {
      mask = o.mask(s, face);
      if (!(mask instanceof Float32Array)) throw new Error(`${WHAT}: the mask function returned ${typeof mask} for face ${face} (${s.file}), expected a Float32Array [H, W]`);
      if (!options.faceShape && mask.length * faceShape[0] !== s.image.length) faceShape = shapeOf(s, face, mask, undefined);
    } else {
      mask = own ?? ellipseFor(faceShape[1], faceShape[2]);
    }
    if (mask.length !== faceShape[1] * faceShape[2]) {
      throw new Error(`${WHAT}: the mask of face ${face} (${s.file}) has ${mask.length} values, expected its ${faceShape[1]}x${faceShape[2]} pixels`);
    }
    const background = backgrounds.draw(new Generator(mixSeed(o.seed, epoch, index, BACK_STREAM)), o.size);
    if (!(background.image instanceof Float32Array) || background.image.length !== 3 * o.size * o.size) {
      throw new Error(`${WHAT}: background source ${backgrounds.name} drew ${background.image?.length} values, expected RGB [3, ${o.size}, ${o.size}]`);
    }
    const geometry = randomGeometry(new Generator(mixSeed(o.seed, epoch, index, GEOMETRY_STREAM)), o.geometry);
    const parts = composeFace(s.image, faceShape, mask, background.image, geometry, new Generator(mixSeed(o.seed, epoch, index, JITTER_STREAM)), {
      size: o.size, channels: o.channels, padding: o.geometry.padding, illumination: o.illumination, ratioRange: o.ratioRange, rangeNorm: o.stretch, jitter: o.jitter,
    });
    return { ...parts, label: labels[face], face, file: `composite:${s.file}|${background.source}`, ...(s.subject !== undefined ? { subject: s.subject } : {}) };
  };

  return {
    length: count,
    classNames,
    shape,
    classCounts,
    sample,
    epoch(epoch: number) {
      if (!Number.isSafeInteger(epoch) || epoch < 0) fail('epoch', epoch, 'a non-negative integer');
      return { length: count, classNames, get: (index: number) => sample(epoch, index) };
    },
    batch(epoch: number, indices: ArrayLike<number>): CompositeBatch {
      const n = indices.length;
      const size = o.channels * o.size * o.size;
      const plane = o.size * o.size;
      const out: CompositeBatch = { x: new Float32Array(n * size), clean: new Float32Array(n * size), mask: new Float32Array(n * plane), y: new Int32Array(n), indices: Int32Array.from(indices) };
      for (let i = 0; i < n; i++) {
        const s = sample(epoch, indices[i]);
        out.x.set(s.image, i * size);
        out.clean.set(s.clean, i * size);
        out.mask.set(s.mask, i * plane);
        out.y[i] = s.label;
      }
      return out;
    },
  };
}
