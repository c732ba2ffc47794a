/**
 * ARPGNet (Li, Zhao, Xia, Jiang, "ARPGNet: Appearance- and Relation-aware Parallel Graph Attention Fusion
 * Network for Facial Expression Recognition", IEEE TAFFC 2025, arXiv 2511.22188), RECONSTRUCTED: no code
 * is public and only the abstract and secondary summaries could be read. What they fix: per-frame CNN
 * appearance representations; a facial region relation graph over a CNN feature map, its nodes the
 * cells of a P x P grid, its edges local adjacency and left-right symmetry, processed per frame by graph
 * attention into relation representations; the appearance sequence and the relation sequence fused by a
 * parallel graph-attention module with temporal position encoding, modelling the complementarity of the
 * two sequences and the temporal dynamics within each. Everything else is OURS, listed here (and in the
 * README), each an option of config.ts where a choice between alternatives is worth measuring:
 *
 *  1. Trunk: the engine's ResNet-18 (stem + layer1..3 = `trunk`, torchvision indices, and layer4 =
 *     `layer4`), width w as PCNN's, one trunk shared by every frame (the frames are a batch of N·T
 *     images, so BatchNorm sees all frames of the batch). The authors use an IR-50 pretrained on
 *     MS-Celeb-1M; --init-from loads PCNN's features1 / features8 (or an ARPGNet's trunk) instead.
 *  2. Appearance vector a_t: global average pool of layer4 (8w channels, H/32), Linear(8w, D).
 *  3. Relation graph on the output of trunk stage `relationStage` (default 2: layer2, 2w channels at
 *     H/8, 6x6 at 48x48), the same trunk as the appearance branch (one CNN, two read-outs). Cells:
 *     adaptive average pooling to P x P (default P = 4; PyTorch's bins, so P may exceed the map: 7 on
 *     6x6 overlaps bins), Linear(C_stage, D), plus a learned embedding per cell (`cell_embedding`
 *     [P², D]: GAT is permutation-equivariant, so without it a node would not know where it is).
 *  4. Region edges (graph.ts): 8-neighbours by default (4 an option), the mirrored cell (r, P-1-c)
 *     (`symmetry`, on by default), both directions, each pair once, plus GATConv's self-loops.
 *  5. Relation GAT: two GATConv(D, D/heads, heads = 4, concat) layers (PyG semantics, negative slope
 *     0.2, no attention dropout), each as h <- ReLU(GAT(h) + h) (a residual around each layer); the
 *     read-out r_t is the mean over the P² nodes.
 *  6. Fusion nodes: the T appearance and T relation vectors, plus the temporal position encoding of
 *     their step (sinusoidal by default, no parameters, so any T loads; `learned`: [T, D]; `none`) and
 *     a learned branch embedding (`branch_embedding` [2, D]: which sequence a node belongs to).
 *  7. Fusion edges (graph.ts): consecutive steps within each sequence, a_t <-> r_t and a_t <-> r_{t±1}
 *     between them (`cross` 'neighbours'; 'same' or 'none' the alternatives), both directions, plus
 *     self-loops.
 *  8. Fusion attention: two layers h <- ReLU(A(h) + h), A a GATConv(D, D/heads, heads) over the fusion
 *     graph (default), or (`fusion` 'sdpa') multi-head scaled dot-product attention with q, k, v and
 *     output projections (Linear(D, D) each) and the graph's adjacency (self-loops included) as the
 *     boolean mask: a graph transformer layer on the same graph (bench/arpgnet-fusion.ts times both).
 *  9. Pooling: the mean of all fusion nodes, then Linear(D, classes): the logits. Loss: cross-entropy
 *     alone (no auxiliary losses). The auxiliary rule reported beside it (`lastStep`): the same
 *     classifier on the mean of the last step's nodes only, i.e. without temporal pooling.
 * 10. D = 8w (64 at the CLI's width 8), heads 4. Initialisation: torchvision's for the trunk, PyTorch's
 *     Linear default, PyG's glorot for GATConv, N(0, 0.02²) for the embeddings.
 * 11. Ablation (`branches`): 'appearance' or 'relation' keeps one sequence (T nodes, temporal edges,
 *     position encoding, no branch embedding) and drops the other branch's modules; 'relation' runs the
 *     trunk only up to `relationStage`.
 *
 * Input [N, T, C, H, W] (a clip per row, its frames in order); output logits [N, classes].
 */
import { Module, Sequential } from '../nn/module.js';
import { Linear } from '../nn/linear.js';
import { GATConv } from '../nn/gat.js';
import { loadTensors, type StateDict } from '../nn/module.js';
import { add, relu } from '../kernels/elementwise/index.js';
import { mean } from '../kernels/reduce/index.js';
import { cat, flatten, narrow, permute, reshape } from '../kernels/shape/index.js';
import { adaptiveAvgPool2d } from '../kernels/pool/index.js';
import { scaledDotProductAttention } from '../kernels/attention/index.js';
import { attentionGraph, type AttentionGraph } from '../kernels/graph/index.js';
import { keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { defaultGenerator } from '../engine/random.js';
import { initResnet, resnetLayer, resnetTrunk, type ResnetTrunk } from '../pcnn/resnet.js';
import { adjacencyMask, blockDiagonal, fusionGraph, regionGraph, sinusoidalEncoding } from './graph.js';
import { resolveARPGNetConfig, type ARPGNetConfig, type ARPGNetOptions } from './config.js';

export type { ARPGNetConfig, ARPGNetOptions } from './config.js';

/** Modules named 0, 1, ... whose forwards take more than one tensor (GATConv's edges). */
class Layers<M extends Module> extends Module {
  constructor(readonly items: M[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
}

/** N(0, std²) from the default generator. */
function normalTensor(shape: number[], std: number): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = std * defaultGenerator.normal();
  return tensor(data, shape);
}

/** Multi-head scaled dot-product attention over a graph given as a boolean mask (fusion 'sdpa'). */
export class GraphSelfAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;

  constructor(readonly dim: number, readonly heads: number) {
    super();
    this.q = this.registerModule('q', new Linear(dim, dim));
    this.k = this.registerModule('k', new Linear(dim, dim));
    this.v = this.registerModule('v', new Linear(dim, dim));
    this.out = this.registerModule('out', new Linear(dim, dim));
  }

  /** Query and key heads [N, heads, S, D/heads] of x [N·S, D] (also for the attention pictures). */
  queriesAndKeys(x: Tensor, clips: number): [Tensor, Tensor] {
    return [this.split(this.q.forward(x), clips), this.split(this.k.forward(x), clips)];
  }

  /** x [N·S, D], mask bool [S, S] (row = query) -> [N·S, D]. */
  forward(x: Tensor, mask: Tensor, clips: number): Tensor {
    const [q, k] = this.queriesAndKeys(x, clips);
    const v = this.split(this.v.forward(x), clips);
    const attended = scaledDotProductAttention(q, k, v, { attnMask: mask });
    return this.out.forward(reshape(permute(attended, [0, 2, 1, 3]), [x.shape[0], this.dim]));
  }

  private split(t: Tensor, clips: number): Tensor {
    const nodes = t.shape[0] / clips;
    return permute(reshape(t, [clips, nodes, this.heads, this.dim / this.heads]), [0, 2, 1, 3]);
  }
}

/** Per-frame relation branch: cells of the grid, projected and embedded, two GATConv layers. */
export class RelationBranch extends Module {
  readonly proj: Linear;
  readonly cellEmbedding: Tensor;
  readonly gat: Layers<GATConv>;

  constructor(inChannels: number, readonly grid: number, dim: number, heads: number) {
    super();
    this.proj = this.registerModule('proj', new Linear(inChannels, dim));
    this.cellEmbedding = this.registerParameter('cell_embedding', normalTensor([grid * grid, dim], 0.02));
    this.gat = this.registerModule('gat', new Layers([0, 1].map(() => new GATConv(dim, dim / heads, { heads }))));
  }

  /** The nodes entering the first GAT layer, [frames·P², D], of a stage map [frames, C, h, w]. */
  nodes(map: Tensor): Tensor {
    const [frames, channels] = map.shape;
    const cells = this.grid * this.grid;
    const pooled = permute(reshape(adaptiveAvgPool2d(map, [this.grid, this.grid]), [frames, channels, cells]), [0, 2, 1]);
    const projected = reshape(this.proj.forward(reshape(pooled, [frames * cells, channels])), [frames, cells, -1]);
    return reshape(add(projected, this.cellEmbedding), [frames * cells, -1]);
  }
}

export interface ARPGNetOutput {
  logits: Tensor;
  /** The classifier on the last step's fusion nodes alone (the auxiliary rule). */
  lastStep: Tensor;
}

/** What predict draws: each attention layer's input (relation: [N·T·P², D]; fusion: [N·S, D]). */
export interface ARPGNetInternals extends ARPGNetOutput {
  relationInputs: Tensor[];
  fusionInputs: Tensor[];
}

export class ARPGNet extends Module {
  readonly config: ARPGNetConfig;
  readonly trunk: ResnetTrunk;
  readonly layer4: Sequential | null;
  readonly appearance: Linear | null;
  readonly relation: RelationBranch | null;
  readonly branchEmbedding: Tensor | null;
  readonly positionEmbedding: Tensor | null;
  readonly fusion: Layers<GATConv | GraphSelfAttention>;
  readonly classifier: Linear;
  /** Region and fusion graphs (CSR on the GPU) and SDPA masks, per batch size; kept across steps. */
  private readonly graphs = new Map<string, AttentionGraph>();
  private mask: Tensor | null = null;

  constructor(config: Pick<ARPGNetConfig, 'inChannels' | 'width' | 'numClasses' | 'inputSize'> & ARPGNetOptions) {
    super();
    const { inChannels, width, numClasses, inputSize, ...options } = config;
    const c = (this.config = resolveARPGNetConfig({ inChannels, width, numClasses, inputSize }, options));
    const w = c.width;
    const D = c.dim;
    this.trunk = this.registerModule('trunk', resnetTrunk(c.inChannels, w));
    const appearance = c.branches !== 'relation';
    const relation = c.branches !== 'appearance';
    this.layer4 = appearance ? this.registerModule('layer4', new Sequential(resnetLayer(4 * w, 8 * w, 2))) : null;
    this.appearance = appearance ? this.registerModule('appearance', new Linear(8 * w, D)) : null;
    const stageChannels = [w, 2 * w, 4 * w][c.relationStage - 1];
    this.relation = relation ? this.registerModule('relation', new RelationBranch(stageChannels, c.grid, D, c.heads)) : null;
    this.branchEmbedding = this.registerParameter('branch_embedding', c.branches === 'both' ? normalTensor([2, D], 0.02) : null);
    this.positionEmbedding = this.registerParameter('position_embedding', c.position === 'learned' ? normalTensor([c.frames, D], 0.02) : null);
    this.fusion = this.registerModule('fusion', new Layers([0, 1].map(() => (c.fusion === 'gat' ? new GATConv(D, D / c.heads, { heads: c.heads }) : new GraphSelfAttention(D, c.heads)))));
    this.classifier = this.registerModule('classifier', new Linear(D, c.numClasses));
    initResnet(this);
  }

  /** Sequences in the fusion graph (2 with both branches). */
  get sequences(): 1 | 2 {
    return this.config.branches === 'both' ? 2 : 1;
  }

  /** The region graph's edge list for one frame (no self-loops). */
  regionEdges(): Int32Array {
    return regionGraph(this.config.grid, { neighbours: this.config.neighbours, symmetry: this.config.symmetry });
  }

  /** The fusion graph's edge list for one clip (no self-loops). */
  fusionEdges(): Int32Array {
    return fusionGraph(this.config.frames, { sequences: this.sequences, cross: this.config.cross });
  }

  forward(x: Tensor): ARPGNetOutput {
    const { logits, lastStep } = this.forwardDetailed(x);
    return { logits, lastStep };
  }

  forwardDetailed(x: Tensor): ARPGNetInternals {
    const { inChannels, inputSize, frames: T, dim: D, relationStage, branches } = this.config;
    if (x.ndim !== 5 || x.shape[1] !== T || x.shape[2] !== inChannels || x.shape[3] !== inputSize[0] || x.shape[4] !== inputSize[1]) {
      throw new Error(`ARPGNet.forward: expected clips [N, ${T}, ${inChannels}, ${inputSize[0]}, ${inputSize[1]}], got [${x.shape}]`);
    }
    const n = x.shape[0];
    const images = reshape(x, [n * T, inChannels, inputSize[0], inputSize[1]]);
    const stages = this.trunk.stages(images, branches === 'relation' ? relationStage : 3);
    const sequences: Tensor[] = [];
    if (this.layer4 && this.appearance) {
      const pooled = flatten(adaptiveAvgPool2d(this.layer4.forward(stages[2]), [1, 1]));
      sequences.push(reshape(this.appearance.forward(pooled), [n, T, D]));
    }
    const relationInputs: Tensor[] = [];
    if (this.relation) {
      const cells = this.config.grid ** 2;
      const graph = this.graph('region', this.regionEdges(), cells, n * T);
      let h = this.relation.nodes(stages[relationStage - 1]);
      for (const layer of this.relation.gat.items) {
        relationInputs.push(h);
        h = relu(add(layer.forward(h, graph), h));
      }
      sequences.push(reshape(mean(reshape(h, [n * T, cells, D]), 1), [n, T, D]));
    }
    const S = this.sequences * T;
    let nodes = reshape(sequences.length === 2 ? cat(sequences, 1) : sequences[0], [n, this.sequences, T, D]);
    const position = this.positionEncoding();
    if (position) nodes = add(nodes, position);
    if (this.branchEmbedding) nodes = add(nodes, reshape(this.branchEmbedding, [2, 1, D]));
    let h = reshape(nodes, [n * S, D]);
    const fusionInputs: Tensor[] = [];
    for (const layer of this.fusion.items) {
      fusionInputs.push(h);
      const attended = layer instanceof GATConv ? layer.forward(h, this.graph('fusion', this.fusionEdges(), S, n)) : layer.forward(h, this.fusionMask(), n);
      h = relu(add(attended, h));
    }
    const perClip = reshape(h, [n, this.sequences, T, D]);
    const logits = this.classifier.forward(mean(perClip, [1, 2]));
    const lastStep = this.classifier.forward(mean(narrow(perClip, 2, T - 1, 1), [1, 2]));
    return { logits, lastStep, relationInputs, fusionInputs };
  }

  /** [T, D] (learned or sinusoidal), or null without one. */
  private positionEncoding(): Tensor | null {
    const { position, frames, dim } = this.config;
    if (position === 'learned') return this.positionEmbedding;
    if (position === 'sinusoidal') return tensor(sinusoidalEncoding(frames, dim), [frames, dim]);
    return null;
  }

  /** `copies` disjoint copies of a graph of `nodes` nodes, built once per batch size and kept. */
  private graph(kind: string, edges: Int32Array, nodes: number, copies: number): AttentionGraph {
    const key = `${kind}:${copies}`;
    let graph = this.graphs.get(key);
    if (!graph) {
      graph = attentionGraph(blockDiagonal(edges, nodes, copies), nodes * copies, { addSelfLoops: true, op: `ARPGNet ${kind} graph` });
      keep(graph.targetCsr);
      keep(graph.sourceCsr);
      this.graphs.set(key, graph);
    }
    return graph;
  }

  /** The fusion graph as SDPA's boolean mask [S, S] (self-loops included), kept. */
  fusionMask(): Tensor {
    if (!this.mask) {
      const S = this.sequences * this.config.frames;
      this.mask = keep(tensor(Array.from(adjacencyMask(this.fusionEdges(), S), (v) => v === 1), [S, S], { dtype: 'bool' }));
    }
    return this.mask;
  }

  override dispose(): void {
    for (const graph of this.graphs.values()) graph.dispose();
    this.graphs.clear();
    this.mask?.dispose();
    this.mask = null;
    super.dispose();
  }
}

/** The module names whose outputs are class scores (left fresh by --init-from). */
export const ARPGNET_CLASS_HEADS = ['classifier'];

/**
 * --init-from: an ARPGNet trained on other data (every entry but the classifier; the configurations must
 * match, T aside with a sinusoidal or no position encoding), or a PCNN (its features1 into the trunk and
 * features8 into layer4; everything else starts fresh). Errors name `file`.
 */
export function loadARPGNetAllButClassifier(model: ARPGNet, state: StateDict, file: string): string {
  const own = model.stateDict();
  const isPCNN = Object.keys(state).some((k) => k.startsWith('features1.')) && !Object.keys(state).some((k) => k.startsWith('trunk.'));
  if (isPCNN) {
    const mapped: StateDict = {};
    for (const [name, value] of Object.entries(state)) {
      if (name.startsWith('features1.')) mapped[`trunk.${name.slice('features1.'.length)}`] = value;
      else if (name.startsWith('features8.') && model.layer4) mapped[`layer4.${name.slice('features8.'.length)}`] = value;
    }
    const targets = Object.fromEntries(Object.entries(own).filter(([k]) => k.startsWith('trunk.') || k.startsWith('layer4.')));
    loadTensors(targets, mapped, { owner: `ARPGNet's trunk and layer4 from the PCNN ${file} (features1, features8)` });
    return `a PCNN: features1 into the trunk${model.layer4 ? ', features8 into layer4' : ''}; the graph and fusion modules start fresh`;
  }
  const isHead = (name: string) => ARPGNET_CLASS_HEADS.includes(name.split('.')[0]);
  const body = Object.fromEntries(Object.entries(state).filter(([k]) => !isHead(k)));
  loadTensors(Object.fromEntries(Object.entries(own).filter(([k]) => !isHead(k))), body, { owner: `ARPGNet from ${file}, all but the classifier` });
  return 'an ARPGNet: all but the classifier';
}

const STEM: Record<string, string> = { conv1: '0', bn1: '1', layer1: '4', layer2: '5', layer3: '6' };

/** --init-trunks: a torchvision ResNet-18 state dict into the trunk (conv1 → trunk.0, bn1 → trunk.1,
 *  layer1..3 → trunk.4..6) and layer4 (→ layer4.0); its fc is not used. Returns the names not used. */
export function loadTorchvisionResnet(model: ARPGNet, resnet: StateDict, file: string): string[] {
  const mapped: StateDict = {};
  const unused: string[] = [];
  for (const [name, value] of Object.entries(resnet)) {
    const [head, ...rest] = name.split('.');
    if (head in STEM) mapped[['trunk', STEM[head], ...rest].join('.')] = value;
    else if (head === 'layer4' && model.layer4) mapped[['layer4', '0', ...rest].join('.')] = value;
    else unused.push(name);
  }
  const own = Object.fromEntries(Object.entries(model.stateDict()).filter(([k]) => k.startsWith('trunk.') || k.startsWith('layer4.')));
  loadTensors(own, mapped, { owner: `ARPGNet's trunk and layer4 from ${file} (a torchvision ResNet-18)` });
  return unused;
}
