/**
 * `GATConv` (PyTorch Geometric's torch_geometric.nn.GATConv, PyG 2.x parameter names): graph attention
 *   h = x · lin.weightᵀ viewed [nodes, heads, C];  e_ij = LeakyReLU(⟨h_j, att_src⟩ + ⟨h_i, att_dst⟩)
 *   α_ij = softmax of e over i's incoming edges (dropped with probability `dropout` in training, the
 *   survivors scaled by 1 / (1 − p), as PyG);   out_i = Σ_j α_ij h_j,
 * heads concatenated ([nodes, heads·C]) or averaged ([nodes, C]), plus bias. Edges are [2, E] (row 0
 * the sources j, row 1 the targets i); duplicates count separately, as in PyG.
 */
import { Module } from './module.js';
import { linear } from '../kernels/matmul/index.js';
import { add, mul } from '../kernels/elementwise/index.js';
import { mean, sum } from '../kernels/reduce/index.js';
import { reshape } from '../kernels/shape/index.js';
import { AttentionGraph, attentionGraph, graphAttention, type EdgeIndex } from '../kernels/graph/index.js';
import { expectFloat32 } from '../kernels/checks.js';
import { rand, zeros, type Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';

export interface GATConvOptions {
  heads?: number;
  /** Concatenate the heads' outputs (true) or average them (false). */
  concat?: boolean;
  negativeSlope?: number;
  /** Dropout of the attention coefficients after the softmax, in training (PyG's), in [0, 1). */
  dropout?: number;
  /** PyG's remove_self_loops + add_self_loops on every edge list given to forward. */
  addSelfLoops?: boolean;
  bias?: boolean;
  /** The generator for the glorot initialisation and the dropout's seeds (default: the seeded default generator). */
  generator?: Generator;
}

/** PyG's glorot: U(−a, a), a = √(6 / (size(−2) + size(−1))). */
function glorot(shape: number[], generator: Generator | undefined): Tensor {
  const bound = Math.sqrt(6 / (shape[shape.length - 2] + shape[shape.length - 1]));
  return rand(shape, { low: -bound, high: bound, generator });
}

/** PyG's Linear without bias (`lin`): its weight is the state-dict entry `lin.weight` [heads·C, in]. */
class GATLinear extends Module {
  readonly weight: Tensor;

  constructor(inChannels: number, outChannels: number, generator: Generator | undefined) {
    super();
    this.weight = this.registerParameter('weight', glorot([outChannels, inChannels], generator));
  }
}

export class GATConv extends Module {
  readonly heads: number;
  readonly concat: boolean;
  readonly negativeSlope: number;
  readonly dropout: number;
  readonly addSelfLoops: boolean;
  readonly lin: GATLinear;
  readonly attSrc: Tensor;
  readonly attDst: Tensor;
  readonly bias: Tensor | null;
  private readonly generator: Generator | undefined;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    { heads = 1, concat = true, negativeSlope = 0.2, dropout = 0, addSelfLoops = true, bias = true, generator }: GATConvOptions = {},
  ) {
    super();
    for (const [name, value, least] of [['inChannels', inChannels, 1], ['outChannels', outChannels, 1], ['heads', heads, 1]] as const) {
      if (!Number.isInteger(value) || value < least) throw new Error(`GATConv: ${name} must be a positive integer, got ${value}`);
    }
    if (!Number.isFinite(negativeSlope)) throw new Error(`GATConv: negativeSlope must be a finite number, got ${negativeSlope}`);
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`GATConv: dropout must be in [0, 1), got ${dropout}`);
    this.heads = heads;
    this.concat = concat;
    this.negativeSlope = negativeSlope;
    this.dropout = dropout;
    this.addSelfLoops = addSelfLoops;
    this.generator = generator;
    this.lin = this.registerModule('lin', new GATLinear(inChannels, heads * outChannels, generator));
    this.attSrc = this.registerParameter('att_src', glorot([1, heads, outChannels], generator));
    this.attDst = this.registerParameter('att_dst', glorot([1, heads, outChannels], generator));
    this.bias = this.registerParameter('bias', bias ? zeros([concat ? heads * outChannels : outChannels]) : null);
  }

  /**
   * x [nodes, inChannels]; edgeIndex an Int32Array [2, E] (row-major), two rows [sources, targets], or
   * an `AttentionGraph` built once with `attentionGraph(edgeIndex, nodes, { addSelfLoops })` (to reuse
   * across layers and steps; an int32 tensor is read back first with `readEdgeIndex`).
   * Returns [nodes, heads·outChannels] when concat, else [nodes, outChannels].
   */
  forward(x: Tensor, edgeIndex: EdgeIndex | AttentionGraph): Tensor {
    const op = 'GATConv';
    expectFloat32(op, 'x', x);
    if (x.ndim !== 2 || x.shape[1] !== this.inChannels) {
      throw new Error(`${op}: x must have shape [nodes, ${this.inChannels}], got [${x.shape}]`);
    }
    const nodes = x.shape[0];
    const { heads, outChannels } = this;
    let graph: AttentionGraph;
    if (edgeIndex instanceof AttentionGraph) {
      if (edgeIndex.nodes !== nodes) throw new Error(`${op}: the graph has ${edgeIndex.nodes} nodes, x has ${nodes}`);
      if (edgeIndex.selfLoops !== this.addSelfLoops) {
        throw new Error(`${op}: the graph was built with addSelfLoops ${edgeIndex.selfLoops}, this layer has addSelfLoops ${this.addSelfLoops}`);
      }
      graph = edgeIndex;
    } else {
      graph = attentionGraph(edgeIndex, nodes, { addSelfLoops: this.addSelfLoops, op });
    }
    const h = reshape(linear(x, this.lin.weight), [nodes, heads, outChannels]);
    const srcScore = sum(mul(h, this.attSrc), 2);
    const dstScore = sum(mul(h, this.attDst), 2);
    const dropoutP = this.training ? this.dropout : 0;
    const aggregated = graphAttention(h, srcScore, dstScore, graph, this.negativeSlope, { dropoutP, generator: this.generator });
    const out = this.concat ? reshape(aggregated, [nodes, heads * outChannels]) : mean(aggregated, 1);
    return this.bias ? add(out, this.bias) : out;
  }
}
