/**
 * Small raster plots written as PNG (pngjs): training curves and confusion matrices, with a built-in
 * 5x7 bitmap font so that no font or canvas library is needed. Axes have round tick values (1, 2 or 5
 * times a power of ten; integers where the values are, as epochs are) and titles; maps are drawn in the
 * demo page's colour scale (viridis, src/fer/colormap.ts), laid over the face, with a colour bar.
 */
import { PNG } from 'pngjs';
import { formatTick as tickText, niceTicks, viridis } from './colormap.js';

type RGB = readonly [number, number, number];

// 5x7 glyphs, one row per 5-bit number (most significant bit = leftmost pixel).
const GLYPHS: Record<string, number[]> = {
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31],
  '3': [31, 2, 4, 2, 1, 17, 14], '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14],
  '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8], '8': [14, 17, 17, 14, 17, 17, 14],
  '9': [14, 17, 17, 15, 1, 2, 12], '.': [0, 0, 0, 0, 0, 12, 12], '-': [0, 0, 0, 31, 0, 0, 0],
  '%': [24, 25, 2, 4, 8, 19, 3], ':': [0, 12, 12, 0, 12, 12, 0], '/': [1, 1, 2, 4, 8, 16, 16],
  ' ': [0, 0, 0, 0, 0, 0, 0], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
  '+': [0, 4, 4, 31, 4, 4, 0], ',': [0, 0, 0, 0, 12, 4, 8], '=': [0, 0, 31, 0, 31, 0, 0], '_': [0, 0, 0, 0, 0, 0, 31],
  "'": [4, 4, 8, 0, 0, 0, 0], '*': [0, 4, 21, 14, 21, 4, 0], ';': [0, 12, 12, 0, 12, 4, 8], '>': [8, 4, 2, 1, 2, 4, 8], '<': [2, 4, 8, 16, 8, 4, 2],
  a: [0, 0, 14, 1, 15, 17, 15], b: [16, 16, 22, 25, 17, 17, 30], c: [0, 0, 14, 16, 16, 17, 14],
  d: [1, 1, 13, 19, 17, 17, 15], e: [0, 0, 14, 17, 31, 16, 14], f: [6, 9, 8, 28, 8, 8, 8],
  g: [0, 15, 17, 17, 15, 1, 14], h: [16, 16, 22, 25, 17, 17, 17], i: [4, 0, 12, 4, 4, 4, 14],
  j: [2, 0, 6, 2, 2, 18, 12], k: [16, 16, 18, 20, 24, 20, 18], l: [12, 4, 4, 4, 4, 4, 14],
  m: [0, 0, 26, 21, 21, 17, 17], n: [0, 0, 22, 25, 17, 17, 17], o: [0, 0, 14, 17, 17, 17, 14],
  p: [0, 0, 30, 17, 30, 16, 16], q: [0, 0, 13, 19, 15, 1, 1], r: [0, 0, 22, 25, 16, 16, 16],
  s: [0, 0, 14, 16, 14, 1, 30], t: [8, 8, 28, 8, 8, 9, 6], u: [0, 0, 17, 17, 17, 19, 13],
  v: [0, 0, 17, 17, 17, 10, 4], w: [0, 0, 17, 17, 21, 21, 10], x: [0, 0, 17, 10, 4, 10, 17],
  y: [0, 0, 17, 17, 15, 1, 14], z: [0, 0, 31, 2, 4, 8, 31],
};

export class Canvas {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
    background: RGB = [255, 255, 255],
  ) {
    this.png = new PNG({ width, height });
    this.rect(0, 0, width, height, background);
  }

  pixel(x: number, y: number, [r, g, b]: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = 4 * (y * this.width + x);
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, color: RGB): void {
    for (let j = Math.round(y); j < Math.round(y + h); j++) for (let i = Math.round(x); i < Math.round(x + w); i++) this.pixel(i, j, color);
  }

  line(x0: number, y0: number, x1: number, y1: number, color: RGB): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) this.pixel(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, color);
  }

  /** Text in the 5x7 font (lower-cased; unknown characters drawn as blanks), `scale` pixels per dot. */
  text(x: number, y: number, text: string, color: RGB = [0, 0, 0], scale = 1): void {
    [...text.toLowerCase()].forEach((ch, k) => {
      const glyph = GLYPHS[ch] ?? GLYPHS[' '];
      glyph.forEach((row, j) => {
        for (let i = 0; i < 5; i++) if (row & (16 >> i)) this.rect(x + (k * 6 + i) * scale, y + j * scale, scale, scale, color);
      });
    });
  }

  /** Grayscale image [H, W] drawn at (x, y) with `scale` pixels per value, [lo, hi] black to white:
   *  `range`, or the values' own. */
  image(x: number, y: number, values: ArrayLike<number>, h: number, w: number, scale = 1, range?: readonly [number, number]): void {
    let [lo, hi] = range ?? [Infinity, -Infinity];
    for (let i = 0; !range && i < h * w; i++) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
    const span = hi - lo || 1;
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < w; i++) {
        const v = Math.round((255 * (values[j * w + i] - lo)) / span);
        this.rect(x + i * scale, y + j * scale, scale, scale, [v, v, v]);
      }
    }
  }

  /** Text written upwards (rotated a quarter turn anticlockwise), its first letter at the bottom (x, y). */
  textUp(x: number, y: number, text: string, color: RGB = [0, 0, 0]): void {
    [...text.toLowerCase()].forEach((ch, k) => {
      const glyph = GLYPHS[ch] ?? GLYPHS[' '];
      glyph.forEach((row, j) => {
        for (let i = 0; i < 5; i++) if (row & (16 >> i)) this.pixel(x + j, y - (k * 6 + i), color);
      });
    });
  }

  /**
   * A map [mh, mw] laid over a gray image [h, w] (values in [0, 1]) at (x, y), `scale` pixels per image
   * pixel: the map stretched bilinearly to the image, coloured in viridis on `range`, blended at `alpha`.
   */
  overlay(x: number, y: number, gray: ArrayLike<number>, h: number, w: number, scale: number, map: ArrayLike<number>, mh: number, mw: number, range: readonly [number, number], alpha = 0.6): void {
    const [lo, hi] = range;
    const at = (j: number, i: number) => map[Math.min(mh - 1, Math.max(0, j)) * mw + Math.min(mw - 1, Math.max(0, i))];
    for (let py = 0; py < h * scale; py++) {
      for (let px = 0; px < w * scale; px++) {
        // Pixel centres of the output in map coordinates (align_corners = false, as a resize).
        const my = ((py + 0.5) / (h * scale)) * mh - 0.5;
        const mx = ((px + 0.5) / (w * scale)) * mw - 0.5;
        const [j, i] = [Math.floor(my), Math.floor(mx)];
        const [fy, fx] = [my - j, mx - i];
        const v = (1 - fy) * ((1 - fx) * at(j, i) + fx * at(j, i + 1)) + fy * ((1 - fx) * at(j + 1, i) + fx * at(j + 1, i + 1));
        const c = viridis((v - lo) / (hi - lo || 1));
        const g = 255 * gray[Math.floor(py / scale) * w + Math.floor(px / scale)];
        this.pixel(x + px, y + py, [0, 1, 2].map((k) => Math.round(alpha * c[k] + (1 - alpha) * g)) as unknown as RGB);
      }
    }
  }

  /** A vertical viridis colour bar for `range` at (x, y), `height` pixels, with round ticks and a title. */
  colorBar(x: number, y: number, height: number, range: readonly [number, number], title: string): void {
    const [lo, hi] = range;
    for (let j = 0; j < height; j++) this.rect(x, y + j, 12, 1, viridis(1 - j / Math.max(1, height - 1)));
    const ticks = niceTicks(lo, hi, 4).filter((v) => v >= lo - 1e-12 && v <= hi + 1e-12);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(hi - lo) || 1;
    for (const v of ticks) {
      const ty = y + (1 - (v - lo) / (hi - lo || 1)) * (height - 1);
      this.line(x + 12, ty, x + 15, ty, [0, 0, 0]);
      this.text(x + 18, ty - 3, tickText(v, step));
    }
    this.textUp(x + 18 + 6 * Math.max(...ticks.map((v) => tickText(v, step).length), 1) + 4, y + height / 2 + 3 * title.length, title);
  }

  encode(): Buffer {
    return PNG.sync.write(this.png);
  }
}

export const PALETTE: RGB[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194],
];

export interface Series {
  name: string;
  points: [number, number][];
}

/** Options of lineChart: the y axis's title (by default the chart's title) and the picture's size. */
export interface LineChartOptions {
  yLabel?: string;
  width?: number;
  height?: number;
}

/**
 * Line chart of several series sharing axes; returns PNG bytes. Ticks are round numbers covering the
 * data (integers on an axis whose values all are, such as epochs), both axes titled.
 */
export function lineChart(title: string, xLabel: string, series: Series[], options: LineChartOptions | number = {}, legacyHeight?: number): Buffer {
  const { yLabel = title, width = 640, height = 400 } = typeof options === 'number' ? { width: options, height: legacyHeight } : options;
  const canvas = new Canvas(width, height);
  const left = 70;
  const right = width - 20;
  const top = 40;
  const bottom = height - 46;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]).filter(Number.isFinite);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const integerX = xs.every(Number.isInteger);
  const xTicks = axisTicks(Math.min(...xs, integerX ? 1 : 0), Math.max(...xs, 1), 6, integerX);
  const yTicks = axisTicks(Math.min(...ys, 0), Math.max(...ys, 1e-9), 5, false);
  const [x0, x1] = [xTicks[0], xTicks.at(-1)!];
  const [y0, y1] = [yTicks[0], yTicks.at(-1)!];
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0 || 1)) * (bottom - top);
  canvas.text(left, 12, title, [0, 0, 0], 2);
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  for (const y of yTicks) {
    canvas.line(left, py(y), right, py(y), [230, 230, 230]);
    const label = tickText(y, yStep);
    canvas.text(left - 6 - 6 * label.length, py(y) - 3, label);
  }
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  for (const x of xTicks) {
    canvas.line(px(x), bottom, px(x), bottom + 3, [0, 0, 0]);
    const label = tickText(x, xStep);
    canvas.text(px(x) - 3 * label.length, bottom + 8, label);
  }
  canvas.line(left, top, left, bottom, [0, 0, 0]);
  canvas.line(left, bottom, right, bottom, [0, 0, 0]);
  canvas.text((left + right) / 2 - 3 * xLabel.length, bottom + 24, xLabel);
  canvas.textUp(6, (top + bottom) / 2 + 3 * yLabel.length, yLabel);
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const points = s.points.filter((p) => Number.isFinite(p[1]));
    for (let i = 1; i < points.length; i++) {
      canvas.line(px(points[i - 1][0]), py(points[i - 1][1]), px(points[i][0]), py(points[i][1]), color);
    }
    for (const [x, y] of points) canvas.rect(px(x) - 1, py(y) - 1, 3, 3, color);
    canvas.rect(right - 150, top + 4 + k * 12, 10, 7, color);
    canvas.text(right - 136, top + 4 + k * 12, s.name);
  });
  return canvas.encode();
}

/** Round ticks whose first and last cover [lo, hi]. */
function axisTicks(lo: number, hi: number, count: number, integer: boolean): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) [lo, hi] = [0, 1];
  if (hi <= lo) hi = lo + 1;
  const inside = niceTicks(lo, hi, count, integer);
  const step = inside.length > 1 ? inside[1] - inside[0] : integer ? 1 : (hi - lo) || 1;
  const ticks = inside.length ? [...inside] : [lo];
  while (ticks[0] > lo + 1e-9 * step) ticks.unshift(Number((ticks[0] - step).toPrecision(12)));
  while (ticks.at(-1)! < hi - 1e-9 * step) ticks.push(Number((ticks.at(-1)! + step).toPrecision(12)));
  return ticks;
}

/** Confusion matrix (rows: true class, columns: predicted), cells shaded by row-normalised rate. */
export function confusionMatrixChart(matrix: number[][], classNames: string[], title = 'confusion matrix'): Buffer {
  const k = classNames.length;
  const cell = 48;
  const left = 90;
  const top = 60;
  const canvas = new Canvas(left + k * cell + 20, top + k * cell + 30);
  canvas.text(10, 12, title, [0, 0, 0], 2);
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    canvas.text(4, top + i * cell + cell / 2 - 3, classNames[i].slice(0, 13));
    row.forEach((count, j) => {
      const shade = Math.round(255 * (1 - count / total));
      canvas.rect(left + j * cell, top + i * cell, cell - 1, cell - 1, [shade, shade, 255]);
      canvas.text(left + j * cell + 4, top + i * cell + cell / 2 - 3, String(count), shade < 110 ? [255, 255, 255] : [0, 0, 0]);
    });
  });
  classNames.forEach((name, j) => canvas.text(left + j * cell + 2, top - 12, name.slice(0, 7)));
  return canvas.encode();
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

export interface BarSeries {
  name: string;
  /** One value per category; null draws no bar (no figure for that category). */
  values: (number | null)[];
}

/** Horizontal grouped bars: one row per category (label on the left), one bar per series, a shared
 *  linear axis from 0; each bar carries its value. Returns PNG bytes. */
export function barChart(title: string, valueLabel: string, categories: string[], series: BarSeries[], width = 960): Buffer {
  const bar = 8;
  const rowHeight = series.length * bar + 8;
  const labelChars = Math.min(Math.max(...categories.map((c) => c.length), 1), 60);
  const left = 12 + 6 * labelChars;
  const right = width - 60;
  const top = 56;
  const bottom = top + categories.length * rowHeight;
  const canvas = new Canvas(width, bottom + 40);
  const finite = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const ticks = axisTicks(0, Math.max(...finite, 1e-9), 4, false);
  const max = ticks.at(-1)!;
  const tickStep = ticks.length > 1 ? ticks[1] - ticks[0] : max;
  const px = (v: number) => left + (Math.max(v, 0) / max) * (right - left);
  canvas.text(12, 12, title, [0, 0, 0], 2);
  let legendX = 12;
  series.forEach((s, k) => {
    canvas.rect(legendX, 36, 10, 7, PALETTE[k % PALETTE.length]);
    canvas.text(legendX + 14, 36, s.name);
    legendX += 14 + 6 * s.name.length + 18;
  });
  for (const v of ticks) {
    canvas.line(px(v), top, px(v), bottom, [230, 230, 230]);
    const label = tickText(v, tickStep);
    canvas.text(px(v) - 3 * label.length, bottom + 6, label);
  }
  canvas.text((left + right) / 2 - 3 * valueLabel.length, bottom + 22, valueLabel);
  categories.forEach((category, i) => {
    const y = top + i * rowHeight + 4;
    canvas.text(6, y + (series.length * bar) / 2 - 3, category.slice(0, labelChars));
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || !Number.isFinite(v)) return;
      canvas.rect(left, y + k * bar, px(v) - left, bar - 1, PALETTE[k % PALETTE.length]);
      canvas.text(px(v) + 3, y + k * bar, formatTick(v));
    });
  });
  canvas.line(left, top, left, bottom, [0, 0, 0]);
  return canvas.encode();
}
