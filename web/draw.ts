// Canvas drawing for the demo: images and feature maps enlarged pixel for pixel, crop outlines, curves.

export const CROP_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4'];

/** Draws [C, H, W] values in [0, 1] (C = 1 gray, 3 RGB) at `scale` screen pixels per image pixel. */
export function drawImage(canvas: HTMLCanvasElement, image: Float32Array, [c, h, w]: readonly number[], scale: number): void {
  const plane = h * w;
  const rgba = new Uint8ClampedArray(4 * plane);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) rgba[4 * p + k] = 255 * image[(c === 3 ? k * plane : 0) + p];
    rgba[4 * p + 3] = 255;
  }
  blit(canvas, new ImageData(rgba, w, h), scale);
}

/** Draws an [H, W] map with a blue-to-yellow ramp stretched over its own range. */
export function drawMap(canvas: HTMLCanvasElement, map: Float32Array, [h, w]: readonly number[], scale: number): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const rgba = new Uint8ClampedArray(4 * h * w);
  for (let p = 0; p < h * w; p++) {
    const t = hi > lo ? (map[p] - lo) / (hi - lo) : 0.5;
    rgba.set([255 * t, 64 + 160 * t, 255 * (1 - t), 255], 4 * p);
  }
  blit(canvas, new ImageData(rgba, w, h), scale);
}

function blit(canvas: HTMLCanvasElement, pixels: ImageData, scale: number): void {
  const small = document.createElement('canvas');
  [small.width, small.height] = [pixels.width, pixels.height];
  small.getContext('2d')!.putImageData(pixels, 0, 0);
  [canvas.width, canvas.height] = [pixels.width * scale, pixels.height * scale];
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

export function outlineBoxes(canvas: HTMLCanvasElement, boxes: Box[], scale: number): void {
  const ctx = canvas.getContext('2d')!;
  ctx.lineWidth = 2;
  boxes.forEach((b, i) => {
    ctx.strokeStyle = CROP_COLORS[i];
    ctx.strokeRect(b.left * scale + 1, b.top * scale + 1, b.width * scale - 2, b.height * scale - 2);
  });
}

/** The crops of `source` (an already drawn canvas) side by side, each framed in its colour. */
export function drawCrops(canvas: HTMLCanvasElement, source: HTMLCanvasElement, boxes: Box[], scale: number): void {
  const gap = 6;
  canvas.width = boxes.reduce((sum, b) => sum + b.width * scale + gap, -gap);
  canvas.height = Math.max(...boxes.map((b) => b.height * scale));
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  let x = 0;
  boxes.forEach((b, i) => {
    const [w, h] = [b.width * scale, b.height * scale];
    ctx.drawImage(source, b.left * scale, b.top * scale, w, h, x, 0, w, h);
    ctx.strokeStyle = CROP_COLORS[i];
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, 1, w - 2, h - 2);
    x += w + gap;
  });
}

export interface Curve {
  label: string;
  values: number[];
  color: string;
  /** Fixed vertical range; by default the curve's own. */
  range?: [number, number];
}

/** Curves against the step, each on its own vertical scale (labelled at the left in its colour). */
export function plotCurves(canvas: HTMLCanvasElement, curves: Curve[]): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const pad = { left: 8, right: 8, top: 8 + 16 * curves.length, bottom: 20 };
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  const count = Math.max(0, ...curves.map((c) => c.values.length));
  const steps = Math.max(2, count);
  ctx.fillStyle = '#555';
  ctx.fillText(`${count} steps`, width - pad.right - 70, height - 5);
  curves.forEach((curve, k) => {
    const finite = curve.values.filter(Number.isFinite);
    const [lo, hi] = curve.range ?? [Math.min(...finite), Math.max(...finite)];
    const span = hi > lo ? hi - lo : 1;
    const x = (i: number) => pad.left + (i / (steps - 1)) * (width - pad.left - pad.right);
    const y = (v: number) => height - pad.bottom - ((v - lo) / span) * (height - pad.top - pad.bottom);
    ctx.strokeStyle = ctx.fillStyle = curve.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    curve.values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
    const last = curve.values.at(-1);
    const shown = last === undefined ? '' : ` ${last.toFixed(3)}`;
    ctx.fillText(`${curve.label}${shown}  (${lo.toPrecision(3)} to ${hi.toPrecision(3)})`, pad.left, 14 + 16 * k);
  });
}
