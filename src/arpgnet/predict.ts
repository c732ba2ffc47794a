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
import { noGrad } from '../engine/autograd.js';
import { tidy, keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { mul } from '../kernels/elementwise/index.js';
import { sum } from '../kernels/reduce/index.js';
import { reshape } from '../kernels/shape/index.js';
import { linear } from '../kernels/matmul/index.js';
import { softmax } from '../kernels/softmax/index.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { GATConv } from '../nn/gat.js';
import { prepareImage, evalTransform } from '../fer/data/index.js';
import { clipFrameIndices, clipFrames, stackFrames } from '../fer/data/clips.js';
import { drawProbabilities, predictionPaths, type Prediction } from '../fer/predict.js';
import { Canvas } from '../fer/plot.js';
import type { ARPGNet, GraphSelfAttention } from './model.js';

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

/** Per-edge attention (mean over heads) of a GATConv over `nodes` nodes from its scores [nodes, heads],
 *  for edges with self-loops (sources, targets), as GATConv computes it: LeakyReLU, softmax per target. */
function gatAttention(layer: GATConv, nodes: number, sources: Int32Array, targets: Int32Array, scores: [Float32Array, Float32Array]): Float32Array {
  const [src, dst] = scores;
  const heads = layer.heads;
  const edges = sources.length;
  const logit = new Float64Array(edges * heads);
  const peak = new Float64Array(nodes * heads).fill(-Infinity);
  for (let e = 0; e < edges; e++) {
    for (let k = 0; k < heads; k++) {
      const s = src[sources[e] * heads + k] + dst[targets[e] * heads + k];
      const v = s > 0 ? s : layer.negativeSlope * s;
      logit[e * heads + k] = v;
      peak[targets[e] * heads + k] = Math.max(peak[targets[e] * heads + k], v);
    }
  }
  const total = new Float64Array(nodes * heads);
  for (let e = 0; e < edges; e++) for (let k = 0; k < heads; k++) total[targets[e] * heads + k] += Math.exp(logit[e * heads + k] - peak[targets[e] * heads + k]);
  const alpha = new Float32Array(edges);
  for (let e = 0; e < edges; e++) {
    let a = 0;
    for (let k = 0; k < heads; k++) a += Math.exp(logit[e * heads + k] - peak[targets[e] * heads + k]) / total[targets[e] * heads + k];
    alpha[e] = a / heads;
  }
  return alpha;
}

/** The GATConv's scores ⟨h_j, att_src⟩ and ⟨h_i, att_dst⟩ [M, heads], as tensors (kept). */
function gatScores(layer: GATConv, x: Tensor): [Tensor, Tensor] {
  const h = reshape(linear(x, layer.lin.weight), [x.shape[0], layer.heads, layer.outChannels]);
  return [keep(sum(mul(h, layer.attSrc), 2)), keep(sum(mul(h, layer.attDst), 2))];
}

/** A graph's edges with a self-loop per node appended, as GATConv sees them. */
function withLoops(edgeIndex: Int32Array, nodes: number): { sources: Int32Array; targets: Int32Array } {
  const e = edgeIndex.length / 2;
  const sources = new Int32Array(e + nodes);
  const targets = new Int32Array(e + nodes);
  sources.set(edgeIndex.subarray(0, e));
  targets.set(edgeIndex.subarray(e));
  for (let n = 0; n < nodes; n++) sources[e + n] = targets[e + n] = n;
  return { sources, targets };
}

interface ClipAttention {
  /** Per frame: α of each region edge (with self-loops) of the last relation layer; null without the branch. */
  region: Float32Array[] | null;
  /** α of each fusion edge (with self-loops) of the last fusion layer. */
  fusion: Float32Array;
}

export async function predictARPGNetClips(model: ARPGNet, inputs: string[], classNames: string[], out: string): Promise<Prediction[]> {
  const { inChannels, inputSize, frames: T, grid } = model.config;
  const [h, w] = inputSize;
  const clips = inputs.map((input) => readClip(input, T, inChannels, inputSize));
  const shape = [T * inChannels, h, w] as const;
  const x = new Float32Array(clips.length * clips[0].length);
  clips.forEach((clip, i) => x.set(evalTransform(clip, shape), i * clip.length));
  const n = inputs.length;
  const S = model.sequences * T;
  const regionEdges = withLoops(model.regionEdges(), grid * grid);
  const fusionEdges = withLoops(model.fusionEdges(), S);

  const wasTraining = model.training;
  model.eval();
  const kept = noGrad(() =>
    tidy(() => {
      const o = model.forwardDetailed(tensor(x, [n, T, inChannels, h, w]));
      const relationLast = model.relation ? gatScores(model.relation.gat.items[1], o.relationInputs[1]) : null;
      const fusionLayer = model.fusion.items[1];
      const fusionLast = fusionLayer instanceof GATConv ? gatScores(fusionLayer, o.fusionInputs[1]) : (fusionLayer as GraphSelfAttention).queriesAndKeys(o.fusionInputs[1], n).map((t) => keep(t));
      return { p: keep(softmax(o.logits, 1)), relationLast, fusionLast };
    }),
  );
  model.train(wasTraining);
  const read = async (pair: Tensor[] | null) => (pair ? ((await Promise.all(pair.map((t) => t.toArray()))) as [Float32Array, Float32Array]) : null);
  const [p, relationScores, fusionScores] = await Promise.all([kept.p.toArray(), read(kept.relationLast), read(kept.fusionLast)]);
  for (const t of [kept.p, ...(kept.relationLast ?? []), ...kept.fusionLast]) t.dispose();

  const cells = grid * grid;
  const attention: ClipAttention[] = inputs.map((_, i) => {
    const region = relationScores && model.relation
      ? Array.from({ length: T }, (_, t) => {
          const frame = i * T + t;
          const slice = (s: Float32Array) => s.subarray(frame * cells * model.config.heads, (frame + 1) * cells * model.config.heads);
          const layer = model.relation!.gat.items[1];
          return gatAttention(layer, cells, regionEdges.sources, regionEdges.targets, [slice(relationScores[0]), slice(relationScores[1])]);
        })
      : null;
    const layer = model.fusion.items[1];
    const heads = model.config.heads;
    let fusion: Float32Array;
    if (layer instanceof GATConv) {
      const slice = (s: Float32Array) => s.subarray(i * S * heads, (i + 1) * S * heads);
      fusion = gatAttention(layer, S, fusionEdges.sources, fusionEdges.targets, [slice(fusionScores![0]), slice(fusionScores![1])]);
    } else {
      fusion = sdpaAttention(fusionScores!, i, heads, S, model.config.dim / heads, fusionEdges);
    }
    return { region, fusion };
  });

  const pngs = predictionPaths(inputs, out);
  return inputs.map((file, i) => {
    const probs = Array.from(p.subarray(i * classNames.length, (i + 1) * classNames.length));
    writeFileAtomic(pngs[i], drawClip(model, clips[i], attention[i], regionEdges, fusionEdges, probs, classNames));
    return { file, probabilities: probs, png: pngs[i] };
  });
}

/** SDPA's attention probabilities (mean over heads) on the fusion graph's edges, from q, k [N, H, S, dh]. */
function sdpaAttention([q, k]: [Float32Array, Float32Array], clip: number, heads: number, S: number, dh: number, edges: { sources: Int32Array; targets: Int32Array }): Float32Array {
  const alpha = new Float32Array(edges.sources.length);
  for (let hd = 0; hd < heads; hd++) {
    const base = (clip * heads + hd) * S * dh;
    for (let i = 0; i < S; i++) {
      const incoming = [...edges.targets.keys()].filter((e) => edges.targets[e] === i);
      const scores = incoming.map((e) => {
        let s = 0;
        for (let d = 0; d < dh; d++) s += q[base + i * dh + d] * k[base + edges.sources[e] * dh + d];
        return s / Math.sqrt(dh);
      });
      const peak = Math.max(...scores);
      const total = scores.reduce((a, s) => a + Math.exp(s - peak), 0);
      incoming.forEach((e, m) => (alpha[e] += Math.exp(scores[m] - peak) / total / heads));
    }
  }
  return alpha;
}

/** Thickness 1..5 and a colour from blue (low) to red (high) for an attention weight in [0, 1]. */
function stroke(a: number): { width: number; color: [number, number, number] } {
  const v = Math.max(0, Math.min(1, a));
  return { width: 1 + Math.round(4 * v), color: [Math.round(40 + 200 * v), 60, Math.round(220 - 180 * v)] };
}

function thickLine(canvas: Canvas, x0: number, y0: number, x1: number, y1: number, width: number, color: [number, number, number]): void {
  const len = Math.hypot(x1 - x0, y1 - y0) || 1;
  const [nx, ny] = [-(y1 - y0) / len, (x1 - x0) / len];
  for (let k = 0; k < width; k++) {
    const off = k - (width - 1) / 2;
    canvas.line(x0 + nx * off, y0 + ny * off, x1 + nx * off, y1 + ny * off, color);
  }
}

/** Undirected pairs of an edge list with loops: the mean of α_ij and α_ji, and each node's α_ii. */
function pairs(alpha: Float32Array, edges: { sources: Int32Array; targets: Int32Array }, nodes: number) {
  const both = new Map<string, { a: number; b: number; sum: number; count: number }>();
  const self = new Float32Array(nodes);
  edges.sources.forEach((j, e) => {
    const i = edges.targets[e];
    if (i === j) {
      self[i] = alpha[e];
      return;
    }
    const key = j < i ? `${j},${i}` : `${i},${j}`;
    const entry = both.get(key) ?? { a: Math.min(i, j), b: Math.max(i, j), sum: 0, count: 0 };
    entry.sum += alpha[e];
    entry.count++;
    both.set(key, entry);
  });
  return { pairs: [...both.values()].map((p) => ({ a: p.a, b: p.b, alpha: p.sum / p.count })), self };
}

function drawClip(
  model: ARPGNet, clip: Float32Array, attention: ClipAttention,
  regionEdges: { sources: Int32Array; targets: Int32Array }, fusionEdges: { sources: Int32Array; targets: Int32Array },
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
    const { pairs: drawn, self } = pairs(attention.region[t], regionEdges, grid * grid);
    const centre = (cell: number) => [left + ((cell % grid) + 0.5) * (w * scale) / grid, 24 + (Math.floor(cell / grid) + 0.5) * (h * scale) / grid];
    // Thickness relative to the frame's largest weight, so that the pattern shows at any graph degree.
    const top = Math.max(...drawn.map((d) => d.alpha), 1e-9);
    for (const d of drawn.sort((a, b) => a.alpha - b.alpha)) {
      const [[x0, y0], [x1, y1]] = [centre(d.a), centre(d.b)];
      const { width, color } = stroke(d.alpha / top);
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
  const { pairs: fusionPairs, self } = pairs(attention.fusion, fusionEdges, S);
  const fusionTop1 = Math.max(...fusionPairs.map((d) => d.alpha), 1e-9);
  for (const d of fusionPairs.sort((a, b) => a.alpha - b.alpha)) {
    const [[x0, y0], [x1, y1]] = [nodeAt(d.a), nodeAt(d.b)];
    const { width, color } = stroke(d.alpha / fusionTop1);
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
