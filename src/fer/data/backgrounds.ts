/**
 * Backgrounds for faces composited onto scenes (composite.ts). FERAtt's generator crops COCO images;
 * COCO is not available here, so the default source is procedural: seeded families of images with the
 * statistics that make a background hard to tell from a face (smooth shading, texture at several
 * scales, edges and shapes, repetitive patterns, sensor-like noise). A folder of the user's own images
 * (`backgroundFolder`) can replace or join them.
 *
 * Every background is Float32 RGB [3, size, size] in [0, 1], a function of the Generator's state
 * alone (the caller seeds it per sample), so a composite stays a function of (seed, epoch, index).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Generator } from '../../engine/random.js';
import { decodeImage, resizeAntialiased, toChannels } from './image.js';
import type { Skipped } from './types.js';

export interface BackgroundDraw {
  /** Float32 RGB [3, size, size] in [0, 1]. */
  image: Float32Array;
  /** What was drawn: `procedural:<family>` or `<file>@<x>,<y>,<side>`, for Sample.file. */
  source: string;
}

/** Something that draws backgrounds: `draw` must depend on the Generator's state alone. */
export interface BackgroundSource {
  readonly name: string;
  draw(g: Generator, size: number): BackgroundDraw;
}

export const BACKGROUND_FAMILIES = ['gradient', 'fractal', 'clutter', 'pattern', 'noise'] as const;
export type BackgroundFamily = (typeof BACKGROUND_FAMILIES)[number];

type RGB = [number, number, number];

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
const randomColor = (g: Generator): RGB => [g.random(), g.random(), g.random()];
const smoothstep = (t: number) => t * t * (3 - 2 * t);

function checkSize(what: string, size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new Error(`${what}: size must be a positive integer, got ${size}`);
}

/** Two- or three-stop colour ramp along a random direction, or around a random centre (radial). */
function gradient(g: Generator, size: number): Float32Array {
  const stops = [randomColor(g), randomColor(g), randomColor(g)];
  const three = g.random() < 0.5;
  const radial = g.random() < 0.3;
  const angle = g.uniform(0, 2 * Math.PI);
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  const [cx, cy] = [g.uniform(-0.2, 1.2), g.uniform(-0.2, 1.2)];
  const reach = g.uniform(0.5, 1.5);
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) / size;
      const v = (y + 0.5) / size;
      let t = radial ? Math.hypot(u - cx, v - cy) / reach : ((u - 0.5) * dx + (v - 0.5) * dy) / 1.42 + 0.5;
      t = smoothstep(clamp01(t));
      for (let c = 0; c < 3; c++) {
        const value = three
          ? t < 0.5 ? stops[0][c] + 2 * t * (stops[1][c] - stops[0][c]) : stops[1][c] + (2 * t - 1) * (stops[2][c] - stops[1][c])
          : stops[0][c] + t * (stops[2][c] - stops[0][c]);
        out[c * plane + y * size + x] = value;
      }
    }
  }
  return out;
}

/**
 * Fractal value noise: 3 to 5 octaves of a random lattice (base 2 to 8 cells across, each octave twice
 * as fine and `gain` as strong), smoothstep-interpolated; mapped between two colours, or, on a third
 * of the draws, one independent field per channel (mottled colour).
 */
function fractal(g: Generator, size: number): Float32Array {
  const octaves = 3 + g.int(3);
  const base = g.uniform(2, 8);
  const gain = g.uniform(0.35, 0.65);
  const perChannel = g.random() < 1 / 3;
  const [low, high] = [randomColor(g), randomColor(g)];
  const fields = Array.from({ length: perChannel ? 3 : 1 }, () => valueNoise(g, size, octaves, base, gain));
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const t = fields[perChannel ? c : 0][p];
      out[c * plane + p] = perChannel ? t : low[c] + t * (high[c] - low[c]);
    }
  }
  return out;
}

/** fBm of value noise in [0, 1], stretched to the full range. */
function valueNoise(g: Generator, size: number, octaves: number, base: number, gain: number): Float32Array {
  const field = new Float64Array(size * size);
  let amplitude = 1;
  for (let o = 0; o < octaves; o++) {
    const cells = base * 2 ** o;
    const n = Math.ceil(cells) + 2;
    const lattice = Float64Array.from({ length: n * n }, () => g.random());
    const [ox, oy] = [g.random(), g.random()];
    for (let y = 0; y < size; y++) {
      const fy = ((y + 0.5) / size) * cells + oy;
      const iy = Math.floor(fy);
      const ty = smoothstep(fy - iy);
      for (let x = 0; x < size; x++) {
        const fx = ((x + 0.5) / size) * cells + ox;
        const ix = Math.floor(fx);
        const tx = smoothstep(fx - ix);
        const at = (i: number, j: number) => lattice[j * n + i];
        const top = at(ix, iy) + tx * (at(ix + 1, iy) - at(ix, iy));
        const bottom = at(ix, iy + 1) + tx * (at(ix + 1, iy + 1) - at(ix, iy + 1));
        field[y * size + x] += amplitude * (top + ty * (bottom - top));
      }
    }
    amplitude *= gain;
  }
  let [min, max] = [Infinity, -Infinity];
  for (const v of field) [min, max] = [Math.min(min, v), Math.max(max, v)];
  const out = new Float32Array(size * size);
  for (let p = 0; p < out.length; p++) out[p] = max > min ? (field[p] - min) / (max - min) : 0.5;
  return out;
}

/**
 * Clutter: a flat or shaded base and 6 to 40 shapes (rotated rectangles, ellipses, thick lines) of
 * random colours and sizes, antialiased over one pixel, painted in order (later ones occlude earlier).
 */
function clutter(g: Generator, size: number): Float32Array {
  const plane = size * size;
  const out = gradient(g, size);
  const count = 6 + g.int(35);
  for (let s = 0; s < count; s++) {
    const kind = g.int(3);
    const color = randomColor(g);
    const opacity = g.uniform(0.6, 1);
    const [cx, cy] = [g.uniform(-0.1, 1.1) * size, g.uniform(-0.1, 1.1) * size];
    const extent = g.uniform(0.03, 0.35) * size;
    const [rx, ry] = [extent, extent * g.uniform(0.2, 1)];
    const angle = g.uniform(0, Math.PI);
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
    const thickness = g.uniform(0.5, 3);
    // Signed distance in pixels (negative inside) in the shape's own axes.
    const distance = (px: number, py: number): number => {
      const u = cos * (px - cx) + sin * (py - cy);
      const v = -sin * (px - cx) + cos * (py - cy);
      if (kind === 0) return Math.max(Math.abs(u) - rx, Math.abs(v) - ry);
      if (kind === 1) return (Math.hypot(u / rx, v / ry) - 1) * Math.min(rx, ry);
      return Math.hypot(Math.max(Math.abs(u) - rx, 0), v) - thickness;
    };
    const reach = Math.max(rx, ry) + thickness + 1;
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(size, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(size, Math.ceil(cx + reach)); x++) {
        const alpha = opacity * clamp01(0.5 - distance(x + 0.5, y + 0.5));
        if (alpha <= 0) continue;
        for (let c = 0; c < 3; c++) {
          const i = c * plane + y * size + x;
          out[i] += alpha * (color[c] - out[i]);
        }
      }
    }
  }
  return out;
}

/** Stripes or checkers: two colours, a random period (4 to 40% of the side), angle and edge softness. */
function pattern(g: Generator, size: number): Float32Array {
  const [a, b] = [randomColor(g), randomColor(g)];
  const checkers = g.random() < 0.5;
  const period = g.uniform(0.04, 0.4) * size;
  const angle = g.uniform(0, Math.PI);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const softness = g.uniform(0.5, 0.25 * period);
  const [ox, oy] = [g.uniform(0, period), g.uniform(0, period)];
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  // Coverage of the "b" half of a square wave at phase t (pixels), edges blurred over `softness`.
  const wave = (t: number) => {
    const r = ((t % period) + period) % period;
    const edge = Math.min(r, period - r) - period / 4; // > 0 in the middle half of the period
    return clamp01(0.5 + edge / softness);
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = cos * (x + 0.5) + sin * (y + 0.5) + ox;
      const v = -sin * (x + 0.5) + cos * (y + 0.5) + oy;
      const s = checkers ? Math.abs(wave(u) - wave(v)) : wave(u);
      for (let c = 0; c < 3; c++) out[c * plane + y * size + x] = a[c] + s * (b[c] - a[c]);
    }
  }
  return out;
}

/** Plain noise around a random colour: Gaussian (gray or per channel) of sigma 0.03 to 0.3, clamped. */
function noise(g: Generator, size: number): Float32Array {
  const mean = randomColor(g);
  const sigma = g.uniform(0.03, 0.3);
  const gray = g.random() < 0.5;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    const shared = gray ? g.normalPair(sigma)[0] : 0;
    for (let c = 0; c < 3; c++) out[c * plane + p] = clamp01(mean[c] + (gray ? shared : g.normalPair(sigma)[0]));
  }
  return out;
}

const DRAW: Record<BackgroundFamily, (g: Generator, size: number) => Float32Array> = { gradient, fractal, clutter, pattern, noise };

/** One background of `family`, Float32 RGB [3, size, size] in [0, 1]. */
export function drawBackground(family: BackgroundFamily, g: Generator, size: number): Float32Array {
  if (!BACKGROUND_FAMILIES.includes(family)) throw new Error(`drawBackground: family must be one of ${BACKGROUND_FAMILIES.join(', ')}, got ${String(family)}`);
  checkSize('drawBackground', size);
  const out = DRAW[family](g, size);
  for (let i = 0; i < out.length; i++) out[i] = clamp01(out[i]);
  return out;
}

/** Procedural backgrounds: each draw picks one of `families` (default all five) uniformly. */
export function proceduralBackgrounds(families: readonly BackgroundFamily[] = BACKGROUND_FAMILIES): BackgroundSource {
  if (!Array.isArray(families) || !families.length) throw new Error('proceduralBackgrounds: families must be a non-empty list');
  for (const f of families) {
    if (!BACKGROUND_FAMILIES.includes(f)) throw new Error(`proceduralBackgrounds: unknown family '${String(f)}', expected one of ${BACKGROUND_FAMILIES.join(', ')}`);
  }
  const list = [...families];
  return {
    name: `procedural(${list.join(', ')})`,
    draw(g, size) {
      const family = list[g.int(list.length)];
      return { image: drawBackground(family, g, size), source: `procedural:${family}` };
    },
  };
}

/** Several sources as one: each draw picks one of them uniformly. */
export function mixedBackgrounds(sources: readonly BackgroundSource[]): BackgroundSource {
  if (!Array.isArray(sources) || !sources.length || !sources.every((s) => s && typeof s.draw === 'function')) {
    throw new Error('mixedBackgrounds: expected a non-empty list of background sources (objects with draw(g, size))');
  }
  const list = [...sources];
  return list.length === 1 ? list[0] : { name: list.map((s) => s.name).join(' + '), draw: (g, size) => list[g.int(list.length)].draw(g, size) };
}

export interface BackgroundFolderOptions {
  /**
   * Side of the square crop as a fraction of the image's shorter side. Default 148 / 640: FERAtt
   * resizes each COCO image to cover 640x1024 and cuts its 148-pixel canvas (a 128-pixel face and a
   * 10-pixel margin) out of it, so a face sits on a small part of a scene.
   */
  cropFraction?: number;
  /** Images are kept with their shorter side at most this many pixels (default 640, as that frame). */
  maxSide?: number;
}

const BACKGROUND_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function backgroundFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return backgroundFiles(full);
      return BACKGROUND_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) ? [full] : [];
    });
}

/**
 * The PNG and JPEG images under `root` (recursively, in sorted order) as backgrounds, each decoded once
 * (image.ts), made RGB and shrunk (antialiased) to at most `maxSide` on its shorter side, kept as 8-bit.
 * A draw picks an image uniformly and a square crop of side cropFraction x the shorter side at a uniform
 * position inside it, resampled bilinearly to the requested size. Files that fail to decode are listed in
 * `skipped`; a folder without any decodable image is an error.
 */
export function backgroundFolder(root: string, options: BackgroundFolderOptions = {}): BackgroundSource & { files: string[]; skipped: Skipped[] } {
  const cropFraction = options.cropFraction ?? 148 / 640;
  const maxSide = options.maxSide ?? 640;
  if (!(cropFraction > 0 && cropFraction <= 1)) throw new Error(`backgroundFolder: cropFraction must be in (0, 1], got ${cropFraction}`);
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new Error(`backgroundFolder: maxSide must be a positive integer, got ${maxSide}`);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch (error) {
    throw new Error(`backgroundFolder: cannot read ${root}: ${(error as Error).message}`);
  }
  if (!isDir) throw new Error(`backgroundFolder: ${root} is not a folder`);
  const files = backgroundFiles(root);
  if (!files.length) throw new Error(`backgroundFolder: ${root} holds no PNG or JPEG image`);
  const images: { file: string; data: Uint8Array; height: number; width: number }[] = [];
  const skipped: Skipped[] = [];
  for (const file of files) {
    try {
      let image = toChannels(decodeImage(readFileSync(file), file), 3);
      const short = Math.min(image.height, image.width);
      if (short > maxSide) {
        const f = maxSide / short;
        image = resizeAntialiased(image, Math.max(1, Math.round(image.height * f)), Math.max(1, Math.round(image.width * f)));
      }
      const data = new Uint8Array(image.data.length);
      for (let i = 0; i < data.length; i++) data[i] = Math.round(clamp01(image.data[i]) * 255);
      images.push({ file, data, height: image.height, width: image.width });
    } catch (error) {
      skipped.push({ file, reason: (error as Error).message });
    }
  }
  if (!images.length) throw new Error(`backgroundFolder: none of the ${files.length} images under ${root} could be decoded (first: ${skipped[0].reason})`);
  return {
    name: `folder:${root}`,
    files: images.map((i) => i.file),
    skipped,
    draw(g, size) {
      checkSize('backgroundFolder', size);
      const image = images[g.int(images.length)];
      const { height, width, data } = image;
      const side = Math.min(height, width) * cropFraction;
      const x0 = g.random() * (width - side);
      const y0 = g.random() * (height - side);
      const out = new Float32Array(3 * size * size);
      const plane = size * size;
      const scale = side / size;
      for (let y = 0; y < size; y++) {
        const sy = Math.min(height - 1, Math.max(0, y0 + (y + 0.5) * scale - 0.5));
        const iy = Math.min(Math.floor(sy), height - 2 < 0 ? 0 : height - 2);
        const ty = height > 1 ? sy - iy : 0;
        for (let x = 0; x < size; x++) {
          const sx = Math.min(width - 1, Math.max(0, x0 + (x + 0.5) * scale - 0.5));
          const ix = Math.min(Math.floor(sx), width - 2 < 0 ? 0 : width - 2);
          const tx = width > 1 ? sx - ix : 0;
          const ix1 = Math.min(ix + 1, width - 1);
          const iy1 = Math.min(iy + 1, height - 1);
          for (let c = 0; c < 3; c++) {
            const o = c * height * width;
            const top = data[o + iy * width + ix] + tx * (data[o + iy * width + ix1] - data[o + iy * width + ix]);
            const bottom = data[o + iy1 * width + ix] + tx * (data[o + iy1 * width + ix1] - data[o + iy1 * width + ix]);
            out[c * plane + y * size + x] = (top + ty * (bottom - top)) / 255;
          }
        }
      }
      return { image: out, source: `${image.file}@${Math.floor(x0)},${Math.floor(y0)},${Math.round(side)}` };
    },
  };
}
