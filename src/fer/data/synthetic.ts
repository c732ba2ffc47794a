/**
 * Synthetic faces, the embedded default dataset: procedurally drawn faces with FER2013's seven
 * expressions, so that training and tests run without any downloaded data.
 *
 * Each face is drawn analytically per pixel (no canvas): the pixel centre is mapped back into face
 * units through the sample's pose, and each feature (face and hair ellipses, brows, eyes, cheeks,
 * nose, mouth) contributes an antialiased coverage from its approximate signed distance. The class
 * shows in the brows/eyes, cheeks and mouth (synthetic-expressions.ts), at the image heights of PCNN's
 * crops (eyes in the top half, cheeks at 50-65%, mouth below 65%). Identity (face shape, feature
 * positions and sizes, skin, hair, background), pose (rotation, shift, scale), a lighting gradient,
 * noise, expression intensity and an occasional occluding patch vary per sample.
 *
 * Sample i of seed s depends on (s, i) only (its own Generator), so samples can be drawn lazily, in
 * any order, and are identical byte for byte across runs. Labels are balanced: every block of seven
 * consecutive indices holds each class once, in a seeded order.
 */
import { Generator } from '../../engine/random.js';
import { mixSeed } from './seed.js';
import { EXPRESSIONS, SYNTHETIC_CLASSES, blend, type Expression } from './synthetic-expressions.js';
import type { Sample } from './types.js';

export { SYNTHETIC_CLASSES };

export interface SyntheticOptions {
  count: number;
  /** Side of the square image, default 48. */
  size?: number;
  /** 1 (gray, default) or 3 (RGB). */
  channels?: number;
  seed?: number;
}

/** syntheticDataset's options: `masks` attaches each face's exact mask (syntheticMask) to its sample. */
export interface SyntheticDatasetOptions extends SyntheticOptions {
  masks?: boolean;
}

export interface SyntheticFaces {
  /** One Float32 [C, size, size] image in [0, 1] per sample. */
  images: Float32Array[];
  labels: Int32Array;
  classNames: string[];
}

const LABEL_STREAM = 0x6c61626c;
const CLASSES = SYNTHETIC_CLASSES.length;

/** The label of sample `index`: each block of seven indices is a seeded permutation of the classes. */
export function syntheticLabel(seed: number, index: number): number {
  const block = Math.floor(index / CLASSES);
  const order = new Generator(mixSeed(seed, block, LABEL_STREAM)).shuffle([...Array(CLASSES).keys()]);
  return order[index % CLASSES];
}

/**
 * Sample `index` of the synthetic dataset `seed`: Float32 [channels, size, size]. `expression`
 * replaces the sample's own class, keeping everything else (identity, pose, lighting, noise): the
 * same person making another face.
 */
export function syntheticFace(seed: number, index: number, size = 48, channels = 1, expression = syntheticLabel(seed, index)): Float32Array {
  checkOptions(size, channels);
  if (!(expression in EXPRESSIONS)) throw new Error(`syntheticFace: expression must be a class index 0..${CLASSES - 1}, got ${expression}`);
  const g = new Generator(mixSeed(seed, index));
  return render(drawFace(g, EXPRESSIONS[expression]), g, size, channels);
}

const FRAME_STREAM = 0x6672616d;

/**
 * Frame `frame` of synthetic clip `index` of seed `seed`: the face of syntheticFace(seed, index) (same
 * identity, pose, lighting and class) with its expression at `progress` (0 neutral, 1 the sample's own
 * intensity), its noise drawn anew for each frame. Float32 [channels, size, size].
 */
export function syntheticFrame(seed: number, index: number, progress: number, frame: number, size = 48, channels = 1): Float32Array {
  checkOptions(size, channels);
  if (!(progress >= 0 && progress <= 1)) throw new Error(`syntheticFrame: progress must be in [0, 1], got ${progress}`);
  const face = drawFace(new Generator(mixSeed(seed, index)), EXPRESSIONS[syntheticLabel(seed, index)], progress);
  return render(face, new Generator(mixSeed(seed, index, frame, FRAME_STREAM)), size, channels);
}

export function syntheticFaces({ count, size = 48, channels = 1, seed = 0 }: SyntheticOptions): SyntheticFaces {
  if (!Number.isInteger(count) || count < 0) throw new Error(`syntheticFaces: count must be a non-negative integer, got ${count}`);
  checkOptions(size, channels);
  const images = Array.from({ length: count }, (_, i) => syntheticFace(seed, i, size, channels));
  const labels = Int32Array.from({ length: count }, (_, i) => syntheticLabel(seed, i));
  return { images, labels, classNames: [...SYNTHETIC_CLASSES] };
}

/**
 * The same samples, drawn on demand: a dataset for `DataLoader` that holds no images in memory.
 * `label(index)` gives a sample's label without drawing it; with `masks`, each sample also carries
 * `mask`, its exact face mask (syntheticMask), for compositing onto backgrounds (composite.ts).
 */
export function syntheticDataset({ count, size = 48, channels = 1, seed = 0, masks = false }: SyntheticDatasetOptions) {
  if (!Number.isInteger(count) || count < 0) throw new Error(`syntheticDataset: count must be a non-negative integer, got ${count}`);
  checkOptions(size, channels);
  return {
    length: count,
    classNames: [...SYNTHETIC_CLASSES],
    label: (index: number) => syntheticLabel(seed, index),
    get(index: number): Sample & { mask?: Float32Array } {
      const sample = { image: syntheticFace(seed, index, size, channels), label: syntheticLabel(seed, index), file: `synthetic:${seed}:${index}` };
      return masks ? { ...sample, mask: syntheticMask(seed, index, size) } : sample;
    },
  };
}

/**
 * The exact face mask of sample `index`: Float32 [size, size], each pixel the coverage (0..1,
 * antialiased over one pixel as the drawing is) of the face ellipse, the skin region that holds
 * brows, eyes, cheeks, nose and mouth, in the sample's pose. Hair outside the face, the neck and the
 * background are 0. It does not depend on the expression (the identity and pose do not), and it is
 * computed beside the face, never changing how the face itself is drawn.
 */
export function syntheticMask(seed: number, index: number, size = 48): Float32Array {
  checkOptions(size, 1);
  const face = drawFace(new Generator(mixSeed(seed, index)), EXPRESSIONS[syntheticLabel(seed, index)]);
  const unit = face.scale * 0.42 * size;
  const pixel = 1 / unit;
  const cos = Math.cos(face.rotation);
  const sin = Math.sin(face.rotation);
  const cx = size * (0.5 + face.shiftX);
  const cy = size * (0.5 + face.shiftY);
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // render()'s mapping of the pixel centre into face units, then paint()'s face ellipse.
      const px = x + 0.5 - cx;
      const py = y + 0.5 - cy;
      const u = (cos * px + sin * py) / unit;
      const v = (cos * py - sin * px) / unit;
      out[y * size + x] = cover(ellipse(u, v - face.faceCy, face.faceW, face.faceH), pixel);
    }
  }
  return out;
}

function checkOptions(size: number, channels: number): void {
  if (!Number.isInteger(size) || size < 8) throw new Error(`synthetic faces: size must be an integer >= 8, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`synthetic faces: channels must be 1 or 3, got ${channels}`);
}

type RGB = [number, number, number];

/** Everything random about one face except its noise, in face units (face half-height about 1). */
function drawFace(g: Generator, expression: Expression, progress = 1) {
  const u = (lo: number, hi: number) => g.uniform(lo, hi);
  const gray = u(0.45, 0.85);
  const skin: RGB = [gray * u(1, 1.12), gray * u(0.85, 0.95), gray * u(0.7, 0.85)];
  const hairShade = u(0.04, 0.4);
  const hair: RGB = [hairShade * u(1, 1.5), hairShade * u(0.9, 1.1), hairShade * u(0.7, 1)];
  const bgShade = u(0.05, 0.95);
  const background: RGB = [bgShade * u(0.8, 1.2), bgShade * u(0.8, 1.2), bgShade * u(0.8, 1.2)];
  return {
    ...blend(expression, progress * u(0.55, 1)),
    skin, hair, background,
    faceW: u(0.66, 0.8), faceH: u(0.92, 1.05), faceCy: u(0, 0.06), hairY: u(-1.05, -0.6),
    eyeY: u(-0.3, -0.2), eyeDX: u(0.28, 0.36), eyeW: u(0.13, 0.17), eyeH: u(0.065, 0.085), gaze: u(-0.03, 0.03),
    browGap: u(0.14, 0.19), browW: u(0.14, 0.19), browThick: u(0.03, 0.045),
    noseLen: u(0.12, 0.2), mouthY: u(0.44, 0.54), mouthW: u(0.22, 0.3), lipThick: u(0.025, 0.04),
    rotation: (u(-10, 10) * Math.PI) / 180, shiftX: u(-0.05, 0.05), shiftY: u(-0.05, 0.05), scale: u(0.85, 1.05),
    light: u(0, 0.4), lightAngle: u(0, 2 * Math.PI), noise: u(0.005, 0.04),
    // An occluding patch (hand, glasses, sticker) on 8% of faces: [x0, y0, x1, y1] in image fractions.
    occluder: g.random() < 0.08 ? occluderBox(g) : null,
    occluderShade: u(0, 1),
  };
}

function occluderBox(g: Generator): [number, number, number, number] {
  const w = g.uniform(0.2, 0.45);
  const h = g.uniform(0.15, 0.35);
  const x = g.uniform(0, 1 - w);
  const y = g.uniform(0, 1 - h);
  return [x, y, x + w, y + h];
}

type Face = ReturnType<typeof drawFace>;

/** Coverage of a shape at signed distance d (negative inside), antialiased over one pixel. */
function cover(d: number, pixel: number): number {
  const a = 0.5 - d / pixel;
  return a <= 0 ? 0 : a >= 1 ? 1 : a;
}

/** Approximate signed distance to an axis-aligned ellipse centred at the origin. */
function ellipse(x: number, y: number, rx: number, ry: number): number {
  return (Math.sqrt((x / rx) ** 2 + (y / ry) ** 2) - 1) * Math.min(rx, ry);
}

/**
 * Signed distance to a lens around the curve v = centre(u), |u| < half-width, opening `up` above and
 * `down` below, both shrinking as sqrt(1 - (u/w)^2) toward the corners: eyes and mouths.
 */
function lens(du: number, dv: number, w: number, up: number, down: number): number {
  if (Math.abs(du) >= w) return Math.hypot(Math.abs(du) - w, dv); // beyond the corners: distance to the corner point
  const profile = Math.sqrt(1 - (du / w) ** 2);
  return Math.max(-up * profile - dv, dv - down * profile, Math.abs(du) - w);
}

function mix(rgb: RGB, color: RGB, alpha: number): void {
  if (alpha <= 0) return;
  for (let c = 0; c < 3; c++) rgb[c] += alpha * (color[c] - rgb[c]);
}

const shade = (color: RGB, f: number): RGB => [color[0] * f, color[1] * f, color[2] * f];

/** Colours derived from the identity, computed once per face rather than per pixel. */
function palette(f: Face) {
  const { skin, hair } = f;
  return {
    dark: shade(skin, 0.2),
    neck: shade(skin, 0.85),
    lip: [skin[0] * 0.75, skin[1] * 0.45, skin[2] * 0.45] as RGB,
    iris: shade(hair, 0.5),
    white: [1, 1, 1] as RGB,
    sclera: [0.92, 0.92, 0.9] as RGB,
    cavity: [0.06, 0.03, 0.03] as RGB,
    teeth: [0.92, 0.9, 0.85] as RGB,
  };
}

/**
 * The colour of the face at (u, v) in face units; `pixel` is one pixel in face units. Each feature
 * is evaluated only inside a box around it (the early-outs are what makes thousands of faces a second).
 */
function paint(f: Face, colors: ReturnType<typeof palette>, u: number, v: number, pixel: number, rgb: RGB): void {
  const { dark } = colors;
  mix(rgb, colors.neck, cover(Math.max(Math.abs(u) - 0.3 * f.faceW, 0.4 - v), pixel));
  const fv = v - f.faceCy;
  if (v < 0.2) mix(rgb, f.hair, cover(ellipse(u, fv + 0.08, f.faceW * 1.1, f.faceH * 1.08), pixel));
  const face = cover(ellipse(u, fv, f.faceW, f.faceH), pixel);
  if (face <= 0) return;
  mix(rgb, f.skin, face);
  mix(rgb, f.hair, face * cover(v - (f.hairY + 0.3 * (u / f.faceW) ** 2), pixel)); // fringe above the hairline
  const side = u < 0 ? -1 : 1;
  const au = Math.abs(u);

  // Cheeks: a highlight on the cheekbone and the fold from the nose wing to the mouth corner.
  const cheek = ((au - 0.36) ** 2 + (v - 0.1) ** 2) / (2 * 0.12 ** 2);
  if (f.cheekRaise > 0 && cheek < 9) mix(rgb, colors.white, 0.22 * f.cheekRaise * Math.exp(-cheek));
  const mouthW = f.mouthW * f.mouthWidth;
  const foldTop = 0.05;
  const foldBottom = f.mouthY + 0.02;
  if (v > foldTop && v < foldBottom) {
    const t = (v - foldTop) / (foldBottom - foldTop);
    const foldU = 0.13 + (mouthW + 0.05 - 0.13) * t;
    mix(rgb, dark, (0.12 + 0.5 * f.cheekRaise) * cover(Math.abs(au - foldU) - 0.015, pixel));
  }

  // Nose: sides of the bridge, nostrils, and AU9's wrinkles across the bridge.
  if (au < 0.2 && v > -0.25 && v < f.noseLen + 0.1) {
    if (v > -0.15 && v < f.noseLen) mix(rgb, dark, 0.15 * cover(Math.abs(au - 0.07) - 0.012, pixel));
    mix(rgb, dark, 0.6 * cover(ellipse(au - 0.06, v - f.noseLen, 0.04, 0.022), pixel));
    if (f.noseWrinkle > 0) {
      const wrinkles = Math.min(Math.abs(v - f.eyeY - 0.05), Math.abs(v - f.eyeY - 0.11));
      mix(rgb, dark, 0.7 * f.noseWrinkle * cover(Math.max(wrinkles - 0.016, au - 0.1), pixel));
    }
  }

  // Eyes: sclera lens, iris clipped to it, lash line along the upper lid.
  const du = u - side * f.eyeDX;
  const dv = v - f.eyeY;
  if (Math.abs(du) < f.eyeW + 0.1 && Math.abs(dv) < 0.25) {
    const up = f.eyeH * f.eyeOpen;
    const down = up * (1 - f.lowerLid);
    const eye = cover(lens(du, dv, f.eyeW, up, down), pixel);
    mix(rgb, colors.sclera, eye);
    mix(rgb, colors.iris, eye * cover(ellipse(du - f.gaze, dv, f.eyeH * 0.95, f.eyeH * 0.95), pixel));
    if (Math.abs(du) < f.eyeW) {
      const lid = -up * Math.sqrt(1 - (du / f.eyeW) ** 2);
      mix(rgb, dark, 0.85 * cover(Math.abs(dv - lid) - 0.02, pixel));
    }
  }

  // Brows: a tapered stroke from the inner to the outer end, shifted, tilted and arched by the expression.
  const inner = f.eyeDX - f.browW * 0.9;
  const span = f.browW * 2;
  const t = (au - inner) / span;
  if (t > -0.2 && t < 1.2 && v < f.eyeY) {
    const tc = Math.min(1, Math.max(0, t));
    const centre = f.eyeY - f.browGap + f.browLift + f.browInner * (1 - tc) + f.browOuter * tc - 4 * f.browArch * tc * (1 - tc);
    const slope = (f.browOuter - f.browInner - 4 * f.browArch * (1 - 2 * tc)) / span;
    const across = Math.abs(v - centre) / Math.sqrt(1 + slope * slope) - f.browThick * (1 - 0.4 * tc);
    mix(rgb, f.hair, 0.95 * cover(Math.max(across, (Math.abs(t - 0.5) - 0.5) * span), pixel));
  }

  // Mouth: lips around the centre curve, the open cavity, upper teeth; corners lifted by mouthCurve,
  // one side raised by mouthTilt (disgust's asymmetric upper lip).
  if (au > mouthW + 0.05 || Math.abs(v - f.mouthY) > 0.4) return;
  const r = u / mouthW;
  const centre = f.mouthY - f.mouthCurve * r * r - f.mouthTilt * Math.max(0, r) ** 2;
  const mv = v - centre;
  const lip = f.lipThick * f.lips;
  mix(rgb, colors.lip, cover(lens(u, mv, mouthW, f.mouthOpen + lip, f.mouthOpen + lip), pixel));
  mix(rgb, dark, 0.8 * cover(Math.max(Math.abs(mv) - 0.012, au - mouthW), pixel));
  if (f.mouthOpen > 0.005) {
    const cavity = cover(lens(u, mv, mouthW, f.mouthOpen, f.mouthOpen), pixel);
    mix(rgb, colors.cavity, cavity);
    const teethEdge = -f.mouthOpen * Math.sqrt(Math.max(0, 1 - r * r)) + 0.9 * f.mouthOpen;
    mix(rgb, colors.teeth, f.teeth * cavity * cover(mv - teethEdge, pixel));
  }
}

/** Rasterises `face` (pose, lighting, occluder, noise) into Float32 [channels, size, size]. */
function render(face: Face, g: Generator, size: number, channels: number): Float32Array {
  const unit = face.scale * 0.42 * size; // pixels per face unit
  const pixel = 1 / unit;
  const cos = Math.cos(face.rotation);
  const sin = Math.sin(face.rotation);
  const cx = size * (0.5 + face.shiftX);
  const cy = size * (0.5 + face.shiftY);
  const lx = Math.cos(face.lightAngle) * face.light * 2;
  const ly = Math.sin(face.lightAngle) * face.light * 2;
  const plane = size * size;
  const out = new Float32Array(channels * plane);
  const rgb: RGB = [0, 0, 0];
  const colors = palette(face);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = x + 0.5 - cx;
      const py = y + 0.5 - cy;
      rgb[0] = face.background[0];
      rgb[1] = face.background[1];
      rgb[2] = face.background[2];
      paint(face, colors, (cos * px + sin * py) / unit, (cos * py - sin * px) / unit, pixel, rgb);
      const light = 1 + lx * ((x + 0.5) / size - 0.5) + ly * ((y + 0.5) / size - 0.5);
      for (let c = 0; c < 3; c++) rgb[c] *= light;
      const o = face.occluder;
      if (o && x >= o[0] * size && x < o[2] * size && y >= o[1] * size && y < o[3] * size) rgb.fill(face.occluderShade);
      const p = y * size + x;
      if (channels === 1) {
        out[p] = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
      } else {
        for (let c = 0; c < 3; c++) out[c * plane + p] = rgb[c];
      }
    }
  }
  addNoise(out, face.noise, g);
  return out;
}

/** Adds N(0, sigma^2) noise and clamps to [0, 1]; both normals of each pair are used. */
function addNoise(out: Float32Array, sigma: number, g: Generator): void {
  for (let i = 0; i < out.length; i += 2) {
    const [first, second] = g.normalPair(sigma);
    out[i] = clamp01(out[i] + first);
    if (i + 1 < out.length) out[i + 1] = clamp01(out[i + 1] + second);
  }
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
