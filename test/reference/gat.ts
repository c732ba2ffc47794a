// Float64 reference for PyG's GATConv, written out from the edge list as PyG computes it: remove_self_loops
// + add_self_loops (loops appended), h = x Wᵀ, per edge e = LeakyReLU(<h_j, a_src> + <h_i, a_dst>),
// softmax over each target's incoming edges (duplicates count separately), out_i = Σ α h_j, heads
// concatenated or averaged, + bias. With `dropout`, PyG's dropout of α after the softmax, by the
// engine's documented mask: F.dropout's hash (test/dropout.test.ts) over the [edges, heads] coefficients
// with the edges in target order (stable: by target, then in the order of the list after the loops).
import { pcg } from './attention.js';

export interface GatReferenceOptions {
  nodes: number;
  inChannels: number;
  heads: number;
  channels: number;
  concat: boolean;
  negativeSlope: number;
  addSelfLoops: boolean;
  /** Dropout of the coefficients with the seed the call drew. */
  dropout?: { p: number; seed: number };
}

/** x [nodes, in], weight [heads·C, in], attSrc / attDst [1, heads, C], bias [heads·C or C] or null. */
export function gatReference(
  x: Float64Array,
  weight: Float64Array,
  attSrc: Float64Array,
  attDst: Float64Array,
  bias: Float64Array | null,
  sources: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: GatReferenceOptions,
): Float64Array {
  const { nodes, inChannels, heads, channels: C } = o;
  let src = Array.from(sources);
  let dst = Array.from(targets);
  if (o.addSelfLoops) {
    const keep = src.map((s, e) => s !== dst[e]);
    src = src.filter((_, e) => keep[e]);
    dst = dst.filter((_, e) => keep[e]);
    for (let n = 0; n < nodes; n++) {
      src.push(n);
      dst.push(n);
    }
  }
  const h = new Float64Array(nodes * heads * C);
  for (let n = 0; n < nodes; n++) {
    for (let f = 0; f < heads * C; f++) {
      let t = 0;
      for (let k = 0; k < inChannels; k++) t += x[n * inChannels + k] * weight[f * inChannels + k];
      h[n * heads * C + f] = t;
    }
  }
  const dot = (node: number, head: number, att: Float64Array) => {
    let t = 0;
    for (let c = 0; c < C; c++) t += h[(node * heads + head) * C + c] * att[head * C + c];
    return t;
  };
  // The multiplier of each coefficient (edge e of the list, head): 1, or the dropout's 0 / 1 / (1 - p).
  const position = src.map((_, e) => dst.filter((i, f) => i < dst[e] || (i === dst[e] && f < e)).length);
  const keep = (e: number, head: number) => {
    if (!o.dropout) return 1;
    const { p, seed } = o.dropout;
    return pcg((pcg(seed) ^ pcg(position[e] * heads + head)) >>> 0) >>> 8 >= Math.round(p * 2 ** 24) ? 1 / (1 - p) : 0;
  };
  const aggregated = new Float64Array(nodes * heads * C);
  for (let head = 0; head < heads; head++) {
    const scores = src.map((j, e) => {
      const z = dot(j, head, attSrc) + dot(dst[e], head, attDst);
      return z > 0 ? z : o.negativeSlope * z;
    });
    const max = new Float64Array(nodes).fill(-Infinity);
    scores.forEach((s, e) => (max[dst[e]] = Math.max(max[dst[e]], s)));
    const total = new Float64Array(nodes);
    scores.forEach((s, e) => (total[dst[e]] += Math.exp(s - max[dst[e]])));
    scores.forEach((s, e) => {
      const i = dst[e];
      const alpha = (Math.exp(s - max[i]) / total[i]) * keep(e, head);
      for (let c = 0; c < C; c++) aggregated[(i * heads + head) * C + c] += alpha * h[(src[e] * heads + head) * C + c];
    });
  }
  const width = o.concat ? heads * C : C;
  const out = new Float64Array(nodes * width);
  for (let n = 0; n < nodes; n++) {
    for (let f = 0; f < width; f++) {
      let v = 0;
      if (o.concat) v = aggregated[n * heads * C + f];
      else for (let head = 0; head < heads; head++) v += aggregated[(n * heads + head) * C + f] / heads;
      out[n * width + f] = v + (bias ? bias[f] : 0);
    }
  }
  return out;
}
