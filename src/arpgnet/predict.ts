/**
 * Prediction on clips with ARPGNet: class probabilities, and a PNG per clip showing
 *  - the T frames as the model saw them (first channel), each with the region graph drawn on the face:
 *    a dot at the centre of every grid cell, a line per edge whose thickness and colour grow with the
 *    attention of the last relation GATConv (the mean over heads of α_ij and α_ji), the self-attention
 *    α_ii as the dot's size;
 *  - the fusion graph: appearance nodes a_1..a_T in the top row, relation nodes r_1..r_T below, a line
 *    per edge with the last fusion layer's attention (mean over heads and both directions) as thickness
 *    (relative to the clip's largest, as in the region graphs),
 *    and each node's self-attention written beside it;
 *  - the probabilities.
 * Each input is a clip folder (its frame images in natural name order, fitted to T as the data layer
 * does: clipFrameIndices) or a single image (a still clip of T copies).
 */
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { prepareImage, evalTransform } from '../fer/data/index.js';
import { clipFrameIndices, clipFrames, stackFrames } from '../fer/data/clips.js';
import { drawProbabilities, predictionPaths, type Prediction } from '../fer/predict.js';
import { Canvas } from '../fer/plot.js';
import type { ARPGNet } from './model.js';
import { arpgnetAttention, attentionStroke, undirectedAttention, type ClipAttention, type EdgesWithLoops } from './attention.js';

/** The frames of a clip folder, or a still image repeated, as [T·C, H, W] in [0, 1]. */
export function readClip(input: string, frames: number, channels: number, size: readonly [number, number]): Float32Array {
  let folder: boolean;
  try {
    folder = statSync(input).isDirectory();
  } catch (error) {
    throw new Error(`predict: cannot read ${input}: ${(error as Error).message}`);
  }
  const files = folder ? clipFrames(input) : [input];
  const images = files.map((file) => prepareImage(readFileSync(file), file, channels, size));
  return stackFrames(images, clipFrameIndices(images.length, frames));
}

export async function predictARPGNetClips(model: ARPGNet, inputs: string[], classNames: string[], out: string): Promise<Prediction[]> {
  const { inChannels, inputSize, frames: T } = model.config;
  const [h, w] = inputSize;
  const clips = inputs.map((input) => readClip(input, T, inChannels, inputSize));
  const shape = [T * inChannels, h, w] as const;
  const x = new Float32Array(clips.length * clips[0].length);
  clips.forEach((clip, i) => x.set(evalTransform(clip, shape), i * clip.length));
  const { probabilities: p, clips: attention, regionEdges, fusionEdges } = await arpgnetAttention(model, x, inputs.length);

  const pngs = predictionPaths(inputs, out);
  return inputs.map((file, i) => {
    const probs = Array.from(p.subarray(i * classNames.length, (i + 1) * classNames.length));
    writeFileAtomic(pngs[i], drawClip(model, clips[i], attention[i], regionEdges, fusionEdges, probs, classNames));
    return { file, probabilities: probs, png: pngs[i] };
  });
}

function thickLine(canvas: Canvas, x0: number, y0: number, x1: number, y1: number, width: number, color: [number, number, number]): void {
  const len = Math.hypot(x1 - x0, y1 - y0) || 1;
  const [nx, ny] = [-(y1 - y0) / len, (x1 - x0) / len];
  for (let k = 0; k < width; k++) {
    const off = k - (width - 1) / 2;
    canvas.line(x0 + nx * off, y0 + ny * off, x1 + nx * off, y1 + ny * off, color);
  }
}

function drawClip(
  model: ARPGNet, clip: Float32Array, attention: ClipAttention,
  regionEdges: EdgesWithLoops, fusionEdges: EdgesWithLoops,
  probs: number[], classNames: string[],
): Buffer {
  const { inChannels, inputSize: [h, w], frames: T, grid } = model.config;
  const scale = Math.max(1, Math.floor(192 / Math.max(h, w)));
  const panel = w * scale + 12;
  const fusionTop = 40 + h * scale;
  const fusionHeight = model.sequences === 2 ? 140 : 80;
  const canvas = new Canvas(Math.max(10 + T * panel, 470), fusionTop + fusionHeight + 60 + 14 * classNames.length);
  const plane = h * w;
  for (let t = 0; t < T; t++) {
    const left = 10 + t * panel;
    canvas.text(left, 8, `frame ${t + 1}`);
    canvas.image(left, 24, clip.subarray(t * inChannels * plane, t * inChannels * plane + plane), h, w, scale);
    if (!attention.region) continue;
    const { pairs: drawn, self } = undirectedAttention(attention.region[t], regionEdges, grid * grid);
    const centre = (cell: number) => [left + ((cell % grid) + 0.5) * (w * scale) / grid, 24 + (Math.floor(cell / grid) + 0.5) * (h * scale) / grid];
    // Thickness relative to the frame's largest weight, so that the pattern shows at any graph degree.
    const top = Math.max(...drawn.map((d) => d.alpha), 1e-9);
    for (const d of drawn.sort((a, b) => a.alpha - b.alpha)) {
      const [[x0, y0], [x1, y1]] = [centre(d.a), centre(d.b)];
      const { width, color } = attentionStroke(d.alpha / top);
      thickLine(canvas, x0, y0, x1, y1, width, color);
    }
    self.forEach((a, cell) => {
      const [cx, cy] = centre(cell);
      const r = 1 + Math.round(3 * a);
      canvas.rect(cx - r, cy - r, 2 * r + 1, 2 * r + 1, [255, 220, 0]);
    });
  }
  if (!attention.region) canvas.text(10, 24 + h * scale + 4, 'relation branch ablated');

  // The fusion graph: a row per sequence, a column per step.
  canvas.text(10, fusionTop, 'fusion graph attention (last layer, both directions averaged; thickest = largest; t: self-attention)');
  const names = model.config.branches === 'both' ? ['appearance', 'relation'] : [model.config.branches];
  const S = model.sequences * T;
  const nodeAt = (node: number) => [110 + (node % T) * Math.max(60, (canvas.width - 160) / Math.max(T, 1)), fusionTop + 30 + Math.floor(node / T) * 70];
  const { pairs: fusionPairs, self } = undirectedAttention(attention.fusion, fusionEdges, S);
  const fusionTop1 = Math.max(...fusionPairs.map((d) => d.alpha), 1e-9);
  for (const d of fusionPairs.sort((a, b) => a.alpha - b.alpha)) {
    const [[x0, y0], [x1, y1]] = [nodeAt(d.a), nodeAt(d.b)];
    const { width, color } = attentionStroke(d.alpha / fusionTop1);
    thickLine(canvas, x0, y0, x1, y1, width, color);
  }
  names.forEach((name, s) => canvas.text(10, nodeAt(s * T)[1] - 3, name.slice(0, 10)));
  for (let node = 0; node < S; node++) {
    const [cx, cy] = nodeAt(node);
    canvas.rect(cx - 4, cy - 4, 9, 9, [0, 0, 0]);
    canvas.text(cx + 7, cy + (node < T ? -12 : 6), `t${(node % T) + 1} ${self[node].toFixed(2)}`);
  }
  drawProbabilities(canvas, fusionTop + fusionHeight + 20, probs, classNames);
  return canvas.encode();
}
