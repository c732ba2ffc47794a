// Canvas drawing for the demo: images enlarged pixel for pixel, feature maps laid over the face in one
// colour scale with its colour bar, the crops with their colour key, and the training chart (axes with
// round ticks, the requested steps as its x-range, smoothed loss over the raw one, accuracies).
import { formatTick, niceCeil, niceTicks, viridis } from '../src/fer/colormap.js';
import { attentionStroke } from '../src/index.js';

/** One colour per crop (left eye, right eye, left cheek, right cheek, mouth), as the key shows them: the
 *  first five of the CLI's palette (src/fer/plot.ts PALETTE), so that its predict picture matches. */
export const CROP_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** [C, H, W] values in [0, 1] (C = 1 gray, 3 RGB) as an image of H x W pixels. */
function imagePixels(image: Float32Array, [c, h, w]: readonly number[]): ImageData {
  const plane = h * w;
  const rgba = new Uint8ClampedArray(4 * plane);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) rgba[4 * p + k] = 255 * image[(c === 3 ? k * plane : 0) + p];
    rgba[4 * p + 3] = 255;
  }
  return new ImageData(rgba, w, h);
}

function small(pixels: ImageData): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [pixels.width, pixels.height];
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
  return canvas;
}

/** Draws [C, H, W] values in [0, 1] at `scale` screen pixels per image pixel, optionally with the crops outlined. */
export function drawImage(canvas: HTMLCanvasElement, image: Float32Array, shape: readonly number[], scale: number, boxes: Box[] = []): void {
  const pixels = imagePixels(image, shape);
  [canvas.width, canvas.height] = [pixels.width * scale, pixels.height * scale];
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small(pixels), 0, 0, canvas.width, canvas.height);
  // Thin outlines, inset half a crop pixel, so that the face stays visible under them.
  ctx.lineWidth = 1.5;
  ctx.setLineDash([6, 3]);
  boxes.forEach((b, i) => {
    ctx.strokeStyle = CROP_COLORS[i];
    ctx.strokeRect(b.left * scale + 1, b.top * scale + 1, b.width * scale - 2, b.height * scale - 2);
  });
  ctx.setLineDash([]);
}

/**
 * The face in gray with an [h, w] map laid over it, stretched to the face (bilinear), in viridis on the
 * fixed range [lo, hi] (the same for maps that are compared), at `alpha`.
 */
export function drawOverlay(
  canvas: HTMLCanvasElement, image: Float32Array, shape: readonly number[], scale: number,
  map: Float32Array, [h, w]: readonly number[], [lo, hi]: readonly [number, number], alpha = 0.6,
): void {
  drawImage(canvas, image, shape, scale);
  const rgba = new Uint8ClampedArray(4 * h * w);
  for (let p = 0; p < h * w; p++) rgba.set([...viridis((map[p] - lo) / (hi - lo || 1)), 255], 4 * p);
  const ctx = canvas.getContext('2d')!;
  ctx.globalAlpha = alpha;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small(new ImageData(rgba, w, h)), 0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
}

/** A vertical colour bar for [lo, hi] with round tick values, `height` CSS pixels tall. */
export function drawColorBar(canvas: HTMLCanvasElement, [lo, hi]: readonly [number, number], height: number, label: string): void {
  const [barWidth, width, pad] = [14, 70, 8];
  [canvas.width, canvas.height] = [width, height];
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, width, height);
  const top = pad;
  const bottom = height - pad;
  for (let y = top; y < bottom; y++) {
    const [r, g, b] = viridis((bottom - y) / (bottom - top));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(0, y, barWidth, 1);
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(0.5, top + 0.5, barWidth, bottom - top);
  ctx.fillStyle = '#222';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  const ticks = niceTicks(lo, hi, 4).filter((v) => v >= lo && v <= hi);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(hi - lo) || 1;
  for (const v of ticks) {
    const y = bottom - ((v - lo) / (hi - lo || 1)) * (bottom - top);
    ctx.fillRect(barWidth, y, 4, 1);
    ctx.fillText(formatTick(v, step), barWidth + 6, y);
  }
  ctx.save();
  ctx.translate(width - 4, height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText(label, 0, 0);
  ctx.restore();
}

/** The crops of `source` (a canvas drawn at `scale`) side by side, each framed in its colour. */
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
    ctx.lineWidth = 3;
    ctx.strokeRect(x + 1.5, 1.5, w - 3, h - 3);
    x += w + gap;
  });
}

export interface TrainingChart {
  /** Steps asked for: the x-range. */
  steps: number;
  /** Raw loss per step (step i + 1 at index i). */
  loss: number[];
  /** Accuracy of the training batches, smoothed, per step, in [0, 1]. */
  trainAccuracy: number[];
  /** Held-out accuracy at some steps. */
  heldOut: { step: number; accuracy: number }[];
  /** Where training ended early, and why. */
  stopped?: { step: number; reason: string };
}

/** Exponential moving average with bias correction (TensorBoard's smoothing), skipping non-finite values. */
export function smooth(values: number[], weight = 0.9): number[] {
  let average = 0;
  let count = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return NaN;
    average = weight * average + (1 - weight) * v;
    count++;
    return average / (1 - weight ** count);
  });
}

/** The training chart, sized to the canvas's CSS width. Loss on the left axis, accuracy (%) on the right. */
export function plotTraining(canvas: HTMLCanvasElement, chart: TrainingChart): void {
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = Math.max(240, Math.round(canvas.clientWidth || canvas.parentElement?.clientWidth || 600));
  const cssHeight = Math.round(Math.min(300, Math.max(200, cssWidth * 0.45)));
  [canvas.width, canvas.height] = [cssWidth * ratio, cssHeight * ratio];
  canvas.style.height = `${cssHeight}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  ctx.font = '11px system-ui, sans-serif';
  const pad = { left: 52, right: 46, top: 28, bottom: 38 };
  const [x0, x1, y0, y1] = [pad.left, cssWidth - pad.right, pad.top, cssHeight - pad.bottom];

  const finite = chart.loss.filter(Number.isFinite);
  // The loss axis covers the finite losses, but at most 3x the first one: a loss that explodes is drawn
  // to the top edge (clipped), not rescaling the chart until the rest is a flat line.
  const first = finite[0] ?? 1;
  const lossMax = finite.length ? niceCeil(Math.min(Math.max(...finite, 1e-6), 3 * Math.abs(first))) : 50;
  const steps = Math.max(1, chart.steps);
  const px = (step: number) => x0 + (step / steps) * (x1 - x0);
  const pyLoss = (v: number) => y1 - (v / lossMax) * (y1 - y0);
  const pyAcc = (v: number) => y1 - v * (y1 - y0);

  // Grid and axes.
  ctx.strokeStyle = '#e4e4e4';
  ctx.fillStyle = '#444';
  ctx.lineWidth = 1;
  const lossTicks = niceTicks(0, lossMax, 4).filter((v) => v <= lossMax);
  const lossStep = lossTicks[1] - lossTicks[0] || lossMax;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of lossTicks) {
    ctx.beginPath();
    ctx.moveTo(x0, Math.round(pyLoss(v)) + 0.5);
    ctx.lineTo(x1, Math.round(pyLoss(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(formatTick(v, lossStep), x0 - 5, pyLoss(v));
  }
  ctx.textAlign = 'left';
  for (const v of [0, 0.25, 0.5, 0.75, 1]) ctx.fillText(`${100 * v}`, x1 + 5, pyAcc(v));
  const stepTicks = niceTicks(0, steps, Math.max(2, Math.min(8, Math.floor((x1 - x0) / 60))), true).filter((v) => v <= steps);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of stepTicks) {
    ctx.fillRect(Math.round(px(v)), y1, 1, 4);
    ctx.fillText(String(v), px(v), y1 + 6);
  }
  ctx.strokeStyle = '#444';
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0);
  ctx.fillText('step', (x0 + x1) / 2, y1 + 21);
  for (const [text, x, color] of [['loss', 12, '#c0392b'], ['accuracy (%)', cssWidth - 10, '#2c6fbb']] as const) {
    ctx.save();
    ctx.fillStyle = color;
    ctx.translate(x, (y0 + y1) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(text, 0, 0);
    ctx.restore();
  }

  // Curves, clipped to the plot area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(x0, y0, x1 - x0, y1 - y0);
  ctx.clip();
  const line = (values: number[], y: (v: number) => number, color: string, width: number) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) return void (pen = false);
      const [x, yy] = [px(i + 1), Math.max(y0 - 2, y(v))];
      if (pen) ctx.lineTo(x, yy);
      else ctx.moveTo(x, yy);
      pen = true;
    });
    ctx.stroke();
  };
  line(chart.loss, pyLoss, 'rgba(192, 57, 43, 0.3)', 1);
  line(smooth(chart.loss), pyLoss, '#c0392b', 2);
  line(chart.trainAccuracy, pyAcc, 'rgba(44, 111, 187, 0.5)', 1.5);
  ctx.strokeStyle = ctx.fillStyle = '#2c6fbb';
  ctx.lineWidth = 2;
  ctx.beginPath();
  chart.heldOut.forEach(({ step, accuracy }, i) => (i ? ctx.lineTo(px(step), pyAcc(accuracy)) : ctx.moveTo(px(step), pyAcc(accuracy))));
  ctx.stroke();
  for (const { step, accuracy } of chart.heldOut) ctx.fillRect(px(step) - 3, pyAcc(accuracy) - 3, 6, 6);
  if (chart.stopped) {
    ctx.strokeStyle = '#555';
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(px(chart.stopped.step)) + 0.5, y0);
    ctx.lineTo(Math.round(px(chart.stopped.step)) + 0.5, y1);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
  if (chart.stopped) {
    const x = px(chart.stopped.step);
    ctx.fillStyle = '#333';
    ctx.textBaseline = 'top';
    ctx.textAlign = x > (x0 + x1) / 2 ? 'right' : 'left';
    ctx.fillText(`${chart.stopped.reason} at step ${chart.stopped.step}`, x + (x > (x0 + x1) / 2 ? -4 : 4), y0 + 4);
  }

  if (!chart.loss.length) {
    ctx.fillStyle = '#888';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(`no steps yet: press Train for ${steps} steps`, (x0 + x1) / 2, (y0 + y1) / 2);
  }

  // Legend above the plot.
  const items: [string, string, number][] = [
    ['loss', 'rgba(192, 57, 43, 0.35)', 1], ['loss, smoothed', '#c0392b', 2.5],
    ['train accuracy', 'rgba(44, 111, 187, 0.5)', 1.5], ['held-out accuracy', '#2c6fbb', 2.5],
  ];
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  let lx = x0;
  let ly = 10;
  for (const [text, color, width] of items) {
    const w = 22 + ctx.measureText(text).width + 14;
    if (lx + w > cssWidth) [lx, ly] = [x0, ly + 12];
    ctx.fillStyle = color;
    ctx.fillRect(lx, ly - width / 2, 18, width);
    ctx.fillStyle = '#333';
    ctx.fillText(text, lx + 22, ly);
    lx += w;
  }
}

/** An attention graph as the page draws it (web/model.ts GraphAttention). */
interface DrawnGraph {
  pairs: { a: number; b: number; alpha: number }[];
  self: ArrayLike<number>;
}

/** Width and colour of an edge, from `attentionStroke` (the CLI's predict picture) on α relative to the graph's largest. */
function edgeStyle(alpha: number, top: number): { width: number; color: string } {
  const { width, color } = attentionStroke(alpha / top);
  return { width, color: `rgb(${color.join(',')})` };
}

/** The graph's edges, weakest first (so the strongest lie on top), between `at(node)`; how many were drawn. */
function drawEdges(ctx: CanvasRenderingContext2D, graph: DrawnGraph, at: (node: number) => [number, number]): number {
  const top = Math.max(...graph.pairs.map((p) => p.alpha), 1e-9);
  ctx.lineCap = 'round';
  const sorted = [...graph.pairs].sort((p, q) => p.alpha - q.alpha);
  for (const p of sorted) {
    const { width, color } = edgeStyle(p.alpha, top);
    const [[x0, y0], [x1, y1]] = [at(p.a), at(p.b)];
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }
  return sorted.length;
}

/**
 * The face with ARPGNet's region graph over it, as `pcnn predict` draws it: a node at the centre of each
 * of the P x P cells (its size the self-attention α_ii), an edge per pair of joined cells whose thickness
 * and colour (blue weak, red strong) grow with its attention relative to the frame's largest. The number
 * of edges drawn goes to the canvas's data-edges.
 */
export function drawRegionGraph(canvas: HTMLCanvasElement, image: Float32Array, shape: readonly number[], scale: number, grid: number, graph: DrawnGraph): void {
  drawImage(canvas, image, shape, scale);
  const ctx = canvas.getContext('2d')!;
  const [cw, ch] = [canvas.width / grid, canvas.height / grid];
  const centre = (cell: number): [number, number] => [((cell % grid) + 0.5) * cw, (Math.floor(cell / grid) + 0.5) * ch];
  canvas.dataset.edges = String(drawEdges(ctx, graph, centre));
  ctx.fillStyle = 'rgb(255,220,0)';
  ctx.strokeStyle = 'black';
  ctx.lineWidth = 1;
  for (let cell = 0; cell < grid * grid; cell++) {
    const [x, y] = centre(cell);
    const r = 2 + 4 * graph.self[cell];
    ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    ctx.strokeRect(x - r, y - r, 2 * r, 2 * r);
  }
}

/**
 * ARPGNet's fusion graph: a row per sequence (appearance, relation), a column per time step, an edge per
 * pair of joined nodes drawn as in the region graph, each node's self-attention written beside it. The
 * number of edges drawn goes to the canvas's data-edges.
 */
export function drawFusionGraph(canvas: HTMLCanvasElement, frames: number, sequences: string[], graph: DrawnGraph): void {
  const [left, step, rowGap, top] = [90, Math.max(70, Math.min(130, 420 / Math.max(frames - 1, 1))), 70, 34];
  canvas.width = left + (frames - 1) * step + 60;
  canvas.height = top + (sequences.length - 1) * rowGap + 34;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const at = (node: number): [number, number] => [left + (node % frames) * step, top + Math.floor(node / frames) * rowGap];
  canvas.dataset.edges = String(drawEdges(ctx, graph, at));
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  sequences.forEach((name, s) => {
    ctx.fillStyle = '#333';
    ctx.fillText(name, 4, at(s * frames)[1]);
  });
  for (let node = 0; node < sequences.length * frames; node++) {
    const [x, y] = at(node);
    ctx.fillStyle = 'black';
    ctx.fillRect(x - 4, y - 4, 9, 9);
    ctx.fillStyle = '#333';
    ctx.fillText(`t${(node % frames) + 1} ${Number(graph.self[node]).toFixed(2)}`, x + 7, y + (node < frames ? -13 : 13));
  }
}
