/**
 * Host-side graph structure for message passing: an edge list [2, E] (row 0 the sources j, row 1 the
 * targets i, as PyG's `edge_index`) checked, optionally given PyG's self-loops, and turned into the two
 * CSR tables the graph kernels read (uploaded as int32 tensors): edges sorted by target for the
 * forward and the target pass of the backward, and by source for the source pass of the backward.
 */
import { tensor, Tensor } from '../../engine/tensor.js';

/** An edge list: an Int32Array of length 2E holding [2, E] row-major, or its two rows. */
export type EdgeIndex = Int32Array | readonly [ArrayLike<number>, ArrayLike<number>];

export interface GraphOptions {
  /** PyG's remove_self_loops + add_self_loops: drop every edge i -> i, then add one per node. */
  addSelfLoops?: boolean;
  /** The op named in errors. */
  op?: string;
}

/** The two rows of an edge list, each checked to hold integers in 0..nodes-1 (errors name the edge). */
function edgeRows(edgeIndex: EdgeIndex, nodes: number, op: string): [Int32Array, Int32Array] {
  let sources: ArrayLike<number>;
  let targets: ArrayLike<number>;
  if (edgeIndex instanceof Tensor) {
    throw new Error(
      `${op}: edgeIndex is a GPU tensor (shape [${edgeIndex.shape}], ${edgeIndex.dtype}); the graph structure is host data: ` +
        'read it once with `await readEdgeIndex(t)` and pass the Int32Array, or build an AttentionGraph with attentionGraph()',
    );
  }
  if (edgeIndex instanceof Int32Array) {
    if (edgeIndex.length % 2 !== 0) {
      throw new Error(`${op}: edgeIndex as an Int32Array holds [2, E] row-major, so its length must be even, got ${edgeIndex.length}`);
    }
    const count = edgeIndex.length / 2;
    sources = edgeIndex.subarray(0, count);
    targets = edgeIndex.subarray(count);
  } else if (Array.isArray(edgeIndex) && edgeIndex.length === 2 && edgeIndex.every((row) => row && typeof row.length === 'number')) {
    [sources, targets] = edgeIndex;
    if (sources.length !== targets.length) {
      throw new Error(`${op}: edgeIndex must have shape [2, E]; its rows have ${sources.length} sources and ${targets.length} targets`);
    }
  } else {
    throw new Error(`${op}: edgeIndex must be an Int32Array [2, E] (row-major) or two rows [sources, targets], got ${describe(edgeIndex)}`);
  }
  const checked = (row: ArrayLike<number>, role: string): Int32Array => {
    const out = new Int32Array(row.length);
    for (let e = 0; e < row.length; e++) {
      const v = row[e];
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new Error(`${op}: edge ${e} (${sources[e]} -> ${targets[e]}): its ${role} ${String(v)} is not an integer node index`);
      }
      if (v < 0 || v >= nodes) {
        throw new Error(`${op}: edge ${e} (${sources[e]} -> ${targets[e]}): its ${role} ${v} is out of range for ${nodes} nodes (expected 0..${nodes - 1})`);
      }
      out[e] = v;
    }
    return out;
  };
  return [checked(sources, 'source'), checked(targets, 'target')];
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length} element(s)`;
  return value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : `${typeof value} ${String(value)}`;
}

/** Reads an int32 edge-index tensor of shape [2, E] back to the host (checking dtype and shape). */
export async function readEdgeIndex(edgeIndex: Tensor): Promise<Int32Array> {
  if (!(edgeIndex instanceof Tensor)) throw new Error(`readEdgeIndex: expected an int32 tensor [2, E], got ${describe(edgeIndex)}`);
  if (edgeIndex.dtype !== 'int32') throw new Error(`readEdgeIndex: edgeIndex must be an int32 tensor, got ${edgeIndex.dtype} of shape [${edgeIndex.shape}]`);
  if (edgeIndex.ndim !== 2 || edgeIndex.shape[0] !== 2) throw new Error(`readEdgeIndex: edgeIndex must have shape [2, E], got [${edgeIndex.shape}]`);
  return edgeIndex.toInt32Array();
}

/**
 * A graph ready for the graph kernels: `nodes`, `edges` (after self-loop handling; duplicates kept),
 * and the CSR tables (layouts in shaders/graph/gat_forward.wgsl and gat_backward_sources.wgsl). Build
 * it once with `attentionGraph` to reuse across layers and steps; `dispose()` frees its tensors.
 */
export class AttentionGraph {
  constructor(
    readonly nodes: number,
    readonly edges: number,
    readonly selfLoops: boolean,
    /** [nodes + 1 offsets | edges sources], edges sorted by target (stable: input order within a target). */
    readonly targetCsr: Tensor,
    /** [nodes + 1 offsets | edges × (position in target order, target)], edges sorted by source. */
    readonly sourceCsr: Tensor,
  ) {}

  dispose(): void {
    this.targetCsr.dispose();
    this.sourceCsr.dispose();
  }
}

/** Counting sort of edge numbers by `key`, stable: CSR offsets (nodes + 1) and the order. */
function sortedBy(key: Int32Array, order: ArrayLike<number>, nodes: number): { offsets: Int32Array; sorted: Int32Array } {
  const offsets = new Int32Array(nodes + 1);
  for (let s = 0; s < order.length; s++) offsets[key[order[s]] + 1]++;
  for (let n = 0; n < nodes; n++) offsets[n + 1] += offsets[n];
  const next = offsets.slice(0, nodes);
  const sorted = new Int32Array(order.length);
  for (let s = 0; s < order.length; s++) sorted[next[key[order[s]]]++] = order[s];
  return { offsets, sorted };
}

/** Checks an edge list for a graph of `nodes` nodes and builds its CSR tables (see AttentionGraph). */
export function attentionGraph(edgeIndex: EdgeIndex, nodes: number, { addSelfLoops = true, op = 'attentionGraph' }: GraphOptions = {}): AttentionGraph {
  if (!Number.isInteger(nodes) || nodes < 0 || nodes > 2 ** 31 - 2) throw new Error(`${op}: the node count must be a non-negative integer, got ${nodes}`);
  let [sources, targets] = edgeRows(edgeIndex, nodes, op);
  if (addSelfLoops) {
    const kept: number[] = [];
    for (let e = 0; e < sources.length; e++) if (sources[e] !== targets[e]) kept.push(e);
    const withLoops = (row: Int32Array) => {
      const out = new Int32Array(kept.length + nodes);
      kept.forEach((e, s) => (out[s] = row[e]));
      for (let n = 0; n < nodes; n++) out[kept.length + n] = n;
      return out;
    };
    sources = withLoops(sources);
    targets = withLoops(targets);
  }
  const edges = sources.length;
  if (nodes + 1 + 2 * edges > 2 ** 31 - 1) throw new Error(`${op}: ${edges} edges are more than int32 CSR tables can index`);
  const identity = Int32Array.from({ length: edges }, (_, e) => e);
  const byTarget = sortedBy(targets, identity, nodes);
  // Position of each edge in target order, then the edges (as those positions) sorted by source.
  const positionOf = new Int32Array(edges);
  byTarget.sorted.forEach((e, position) => (positionOf[e] = position));
  const bySource = sortedBy(sources, identity, nodes);

  const targetTable = new Int32Array(nodes + 1 + edges);
  targetTable.set(byTarget.offsets);
  byTarget.sorted.forEach((e, position) => (targetTable[nodes + 1 + position] = sources[e]));
  const sourceTable = new Int32Array(nodes + 1 + 2 * edges);
  sourceTable.set(bySource.offsets);
  bySource.sorted.forEach((e, s) => {
    sourceTable[nodes + 1 + 2 * s] = positionOf[e];
    sourceTable[nodes + 2 + 2 * s] = targets[e];
  });
  return new AttentionGraph(nodes, edges, addSelfLoops, tensor(targetTable), tensor(sourceTable));
}
