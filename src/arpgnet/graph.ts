/**
 * ARPGNet's two graphs as host edge lists (PyG's edge_index: row 0 the sources j, row 1 the targets i),
 * without self-loops (GATConv adds one per node): no GPU code here.
 *
 * Region graph (one per frame): the cells of a P x P grid, cell (r, c) numbered r·P + c. Edges join each
 * cell to its 4-neighbours (up, down, left, right) or 8-neighbours (with the diagonals) inside the grid,
 * and to its mirror image across the vertical mid-line, (r, P-1-c) (the left-right symmetry of a face);
 * every edge in both directions. The edge set is a set: a pair that is both adjacent and mirrored (the
 * two middle columns of an even P) is one edge, and the middle column of an odd P, its own mirror, has no
 * symmetry edge.
 *
 * Fusion graph (one per clip): 2T nodes, appearance step t numbered t and relation step t numbered T + t
 * (T nodes, only one sequence, where one branch is ablated). Edges join consecutive steps within each
 * sequence (t, t+1), and, between the sequences, a_t with r_t ('same') and with r_{t-1} and r_{t+1} too
 * ('neighbours'); 'none' leaves the two sequences joined only through the pooling. Both directions.
 */

/** An undirected edge set: each pair once, as both directed edges in the edge list. */
class EdgeSet {
  private readonly pairs = new Set<string>();
  readonly sources: number[] = [];
  readonly targets: number[] = [];

  add(a: number, b: number): void {
    if (a === b) return;
    const key = a < b ? `${a},${b}` : `${b},${a}`;
    if (this.pairs.has(key)) return;
    this.pairs.add(key);
    this.sources.push(a, b);
    this.targets.push(b, a);
  }

  edgeIndex(): Int32Array {
    return Int32Array.from([...this.sources, ...this.targets]);
  }
}

export type Neighbourhood = 4 | 8;

export interface RegionGraphOptions {
  neighbours: Neighbourhood;
  /** Edges between mirrored cells (r, c) and (r, P-1-c). */
  symmetry: boolean;
}

/** The region graph of a P x P grid: Int32Array [2, E] row-major, both directions, no self-loops. */
export function regionGraph(grid: number, { neighbours, symmetry }: RegionGraphOptions): Int32Array {
  if (!Number.isInteger(grid) || grid < 1) throw new Error(`regionGraph: the grid size P must be a positive integer, got ${grid}`);
  if (neighbours !== 4 && neighbours !== 8) throw new Error(`regionGraph: neighbours must be 4 or 8, got ${neighbours}`);
  const edges = new EdgeSet();
  const cell = (r: number, c: number) => r * grid + c;
  const steps = neighbours === 4 ? [[0, 1], [1, 0]] : [[0, 1], [1, 0], [1, 1], [1, -1]];
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      for (const [dr, dc] of steps) {
        const [r2, c2] = [r + dr, c + dc];
        if (r2 >= 0 && r2 < grid && c2 >= 0 && c2 < grid) edges.add(cell(r, c), cell(r2, c2));
      }
      if (symmetry) edges.add(cell(r, c), cell(r, grid - 1 - c));
    }
  }
  return edges.edgeIndex();
}

export type CrossEdges = 'same' | 'neighbours' | 'none';

export interface FusionGraphOptions {
  /** Sequences present: both (2T nodes), or one (T nodes, no cross edges). */
  sequences: 1 | 2;
  cross: CrossEdges;
}

/** The fusion graph of a clip of T steps: Int32Array [2, E] row-major, both directions, no self-loops. */
export function fusionGraph(frames: number, { sequences, cross }: FusionGraphOptions): Int32Array {
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`fusionGraph: the number of frames T must be a positive integer, got ${frames}`);
  if (!['same', 'neighbours', 'none'].includes(cross)) throw new Error(`fusionGraph: cross must be same, neighbours or none, got ${cross}`);
  const edges = new EdgeSet();
  for (let s = 0; s < sequences; s++) {
    for (let t = 0; t + 1 < frames; t++) edges.add(s * frames + t, s * frames + t + 1);
  }
  if (sequences === 2 && cross !== 'none') {
    for (let t = 0; t < frames; t++) {
      edges.add(t, frames + t);
      if (cross === 'neighbours') {
        if (t > 0) edges.add(t, frames + t - 1);
        if (t + 1 < frames) edges.add(t, frames + t + 1);
      }
    }
  }
  return edges.edgeIndex();
}

/** `copies` disjoint copies of a graph of `nodes` nodes (a batch as one graph): copy k's node n is k·nodes + n. */
export function blockDiagonal(edgeIndex: Int32Array, nodes: number, copies: number): Int32Array {
  const e = edgeIndex.length / 2;
  const out = new Int32Array(2 * e * copies);
  for (let k = 0; k < copies; k++) {
    for (let i = 0; i < e; i++) {
      out[k * e + i] = edgeIndex[i] + k * nodes;
      out[e * copies + k * e + i] = edgeIndex[e + i] + k * nodes;
    }
  }
  return out;
}

/** The graph as a boolean attention mask [nodes, nodes], row = query (target) i, column = key (source) j,
 *  true where j -> i is an edge or j = i (the self-loop GATConv adds): SDPA over the graph. */
export function adjacencyMask(edgeIndex: Int32Array, nodes: number): Uint8Array {
  const mask = new Uint8Array(nodes * nodes);
  const e = edgeIndex.length / 2;
  for (let i = 0; i < e; i++) mask[edgeIndex[e + i] * nodes + edgeIndex[i]] = 1;
  for (let n = 0; n < nodes; n++) mask[n * nodes + n] = 1;
  return mask;
}

/** Sinusoidal temporal position encoding (Vaswani et al.): PE[t, 2i] = sin(t / 10000^(2i/D)),
 *  PE[t, 2i+1] = cos(t / 10000^(2i/D)); Float32 [T, D]. */
export function sinusoidalEncoding(frames: number, dim: number): Float32Array {
  const out = new Float32Array(frames * dim);
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < dim; i++) {
      const angle = t / 10000 ** ((2 * Math.floor(i / 2)) / dim);
      out[t * dim + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}
