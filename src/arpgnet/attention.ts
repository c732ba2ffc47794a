/**
 * ARPGNet's graph attention, as `pcnn predict` draws it and the demo page shows it: per clip, the last
 * relation GATConv's α on every region edge of every frame, and the last fusion layer's α (GATConv) or
 * attention probabilities (SDPA) on every fusion edge, each the mean over heads; with the clips'
 * logits, probabilities and last-step probabilities from the same forward pass. No Node-only imports,
 * so that the browser bundle carries it.
 */
import { noGrad } from '../engine/autograd.js';
import { tidy, keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { mul } from '../kernels/elementwise/index.js';
import { sum } from '../kernels/reduce/index.js';
import { reshape } from '../kernels/shape/index.js';
import { linear } from '../kernels/matmul/index.js';
import { softmax } from '../kernels/softmax/index.js';
import { GATConv } from '../nn/gat.js';
import type { ARPGNet, GraphSelfAttention } from './model.js';

/** A graph's directed edges with a self-loop per node appended (the order GATConv's α follow). */
export interface EdgesWithLoops {
  sources: Int32Array;
  targets: Int32Array;
}

export interface ClipAttention {
  /** Per frame: α of each region edge (with self-loops) of the last relation layer; null without the branch. */
  region: Float32Array[] | null;
  /** α of each fusion edge (with self-loops) of the last fusion layer. */
  fusion: Float32Array;
}

export interface ARPGNetAttention {
  /** [N, classes] each. */
  logits: Float32Array;
  probabilities: Float32Array;
  /** The classifier on the last step alone, as probabilities [N, classes]. */
  lastStep: Float32Array;
  clips: ClipAttention[];
  regionEdges: EdgesWithLoops;
  fusionEdges: EdgesWithLoops;
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
export function withLoops(edgeIndex: Int32Array, nodes: number): EdgesWithLoops {
  const e = edgeIndex.length / 2;
  const sources = new Int32Array(e + nodes);
  const targets = new Int32Array(e + nodes);
  sources.set(edgeIndex.subarray(0, e));
  targets.set(edgeIndex.subarray(e));
  for (let n = 0; n < nodes; n++) sources[e + n] = targets[e + n] = n;
  return { sources, targets };
}

/** SDPA's attention probabilities (mean over heads) on the fusion graph's edges, from q, k [N, H, S, dh]. */
function sdpaAttention([q, k]: [Float32Array, Float32Array], clip: number, heads: number, S: number, dh: number, edges: EdgesWithLoops): Float32Array {
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

/**
 * Clips x [N, T, C, H, W] (as a flat array) through the model in eval mode, with the attention of its
 * last relation layer (per frame) and last fusion layer (per clip).
 */
export async function arpgnetAttention(model: ARPGNet, x: Float32Array, n: number): Promise<ARPGNetAttention> {
  const { inChannels, inputSize: [h, w], frames: T, grid, heads } = model.config;
  const S = model.sequences * T;
  const regionEdges = withLoops(model.regionEdges(), grid * grid);
  const fusionEdges = withLoops(model.fusionEdges(), S);

  const wasTraining = model.training;
  model.eval();
  const kept = (() => {
    try {
      return noGrad(() =>
        tidy(() => {
          const o = model.forwardDetailed(tensor(x, [n, T, inChannels, h, w]));
          const relationLast = model.relation ? gatScores(model.relation.gat.items[1], o.relationInputs[1]) : null;
          const fusionLayer = model.fusion.items[1];
          const fusionLast = fusionLayer instanceof GATConv ? gatScores(fusionLayer, o.fusionInputs[1]) : (fusionLayer as GraphSelfAttention).queriesAndKeys(o.fusionInputs[1], n).map((t) => keep(t));
          return { logits: keep(o.logits), p: keep(softmax(o.logits, 1)), last: keep(softmax(o.lastStep, 1)), relationLast, fusionLast };
        }),
      );
    } finally {
      model.train(wasTraining);
    }
  })();
  const all = [kept.logits, kept.p, kept.last, ...(kept.relationLast ?? []), ...kept.fusionLast];
  let values: Float32Array[];
  try {
    values = await Promise.all(all.map((t) => t.toArray()));
  } finally {
    all.forEach((t) => t.dispose());
  }
  const [logits, probabilities, lastStep] = values;
  const relationScores = kept.relationLast ? (values.slice(3, 5) as [Float32Array, Float32Array]) : null;
  const fusionScores = values.slice(kept.relationLast ? 5 : 3) as [Float32Array, Float32Array];

  const cells = grid * grid;
  const clips: ClipAttention[] = Array.from({ length: n }, (_, i) => {
    const region = relationScores && model.relation
      ? Array.from({ length: T }, (_, t) => {
          const frame = i * T + t;
          const slice = (s: Float32Array) => s.subarray(frame * cells * heads, (frame + 1) * cells * heads);
          return gatAttention(model.relation!.gat.items[1], cells, regionEdges.sources, regionEdges.targets, [slice(relationScores[0]), slice(relationScores[1])]);
        })
      : null;
    const layer = model.fusion.items[1];
    let fusion: Float32Array;
    if (layer instanceof GATConv) {
      const slice = (s: Float32Array) => s.subarray(i * S * heads, (i + 1) * S * heads);
      fusion = gatAttention(layer, S, fusionEdges.sources, fusionEdges.targets, [slice(fusionScores[0]), slice(fusionScores[1])]);
    } else {
      fusion = sdpaAttention(fusionScores, i, heads, S, model.config.dim / heads, fusionEdges);
    }
    return { region, fusion };
  });
  return { logits, probabilities, lastStep, clips, regionEdges, fusionEdges };
}

/** An undirected edge a < b with the mean of α_ab and α_ba. */
export interface UndirectedAttention {
  a: number;
  b: number;
  alpha: number;
}

/** Undirected pairs of an edge list with loops: the mean of α_ij and α_ji, and each node's α_ii. */
export function undirectedAttention(alpha: ArrayLike<number>, edges: EdgesWithLoops, nodes: number): { pairs: UndirectedAttention[]; self: Float32Array } {
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

/** Thickness 1..5 and a colour from blue (low) to red (high) for an attention weight in [0, 1]. */
export function attentionStroke(a: number): { width: number; color: [number, number, number] } {
  const v = Math.max(0, Math.min(1, a));
  return { width: 1 + Math.round(4 * v), color: [Math.round(40 + 200 * v), 60, Math.round(220 - 180 * v)] };
}
