/**
 * graphAttention: the attention aggregation of a graph attention layer (PyG's GATConv), fused: per
 * (target, head) the edge scores LeakyReLU(srcScore[j] + dstScore[i]), their softmax over the target's
 * incoming edges and the alpha-weighted sum of the sources' features, in one dispatch. The backward
 * takes two dispatches and no float atomics: a pass over targets writes each edge's (alpha, dScore),
 * a pass over sources gathers them (see shaders/graph/*). With `dropoutP` the coefficients are dropped
 * after the softmax, as PyG's GATConv in training, by a mask hashed from a seed drawn once per call (the
 * backward regenerates it, nothing is stored).
 */
import { Kernel, agreedConstant } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { expectFloat32 } from '../checks.js';
import { dropoutThreshold } from '../elementwise/dropout.js';
import { defaultGenerator, type Generator } from '../../engine/random.js';
import type { AttentionGraph } from './edges.js';
import forwardSource from '../../../shaders/graph/gat_forward.wgsl';
import backwardTargetsSource from '../../../shaders/graph/gat_backward_targets.wgsl';
import backwardSourcesSource from '../../../shaders/graph/gat_backward_sources.wgsl';

export { AttentionGraph, attentionGraph, readEdgeIndex, type EdgeIndex, type GraphOptions } from './edges.js';

const forwardKernel = new Kernel('gat_forward', forwardSource);
const backwardTargetsKernel = new Kernel('gat_backward_targets', backwardTargetsSource);
const backwardSourcesKernel = new Kernel('gat_backward_sources', backwardSourcesSource);

/** One invocation per (node, head), in workgroups of the kernel's own size. */
function perNodeHead(kernel: Kernel, nodes: number, heads: number) {
  return workgroups1d(Math.ceil((nodes * heads) / kernel.workgroupInvocations));
}

export interface GraphAttentionOptions {
  /** Dropout of the coefficients α after the softmax (PyG's `dropout` in training), in [0, 1). */
  dropoutP?: number;
  /** Where the dropout's seed is drawn from, once per call; default the default generator. */
  generator?: Generator;
}

/**
 * out[i, k, :] = Σ_{j → i} α_ijk keep_ijk h[j, k, :], α_·ik = softmax over i's incoming edges of
 * LeakyReLU(srcScore[j, k] + dstScore[i, k], negativeSlope), keep = 1 without dropout, else dropout()'s
 * mask of the [edges, heads] coefficients in target order (stable: by target, then as given). h
 * [nodes, heads, channels], the scores [nodes, heads] (made by recorded ops, so that their own gradients
 * flow on); differentiable in all three.
 */
export function graphAttention(
  h: Tensor,
  srcScore: Tensor,
  dstScore: Tensor,
  graph: AttentionGraph,
  negativeSlope: number,
  { dropoutP = 0, generator = defaultGenerator }: GraphAttentionOptions = {},
): Tensor {
  const op = 'graphAttention';
  expectFloat32(op, 'h', h);
  expectFloat32(op, 'srcScore', srcScore);
  expectFloat32(op, 'dstScore', dstScore);
  if (h.ndim !== 3) throw new Error(`${op}: h must be 3-D [nodes, heads, channels], got shape [${h.shape}]`);
  const [nodes, heads, channels] = h.shape;
  if (nodes !== graph.nodes) throw new Error(`${op}: h has ${nodes} nodes, the graph ${graph.nodes}`);
  for (const [name, score] of [['srcScore', srcScore], ['dstScore', dstScore]] as const) {
    if (score.ndim !== 2 || score.shape[0] !== nodes || score.shape[1] !== heads) {
      throw new Error(`${op}: ${name} must have shape [${nodes}, ${heads}] (h [${h.shape}]), got [${score.shape}]`);
    }
  }
  if (!Number.isFinite(negativeSlope)) throw new Error(`${op}: negativeSlope must be a finite number, got ${negativeSlope}`);
  if (typeof dropoutP !== 'number' || !(dropoutP >= 0 && dropoutP < 1)) throw new Error(`${op}: dropoutP must be in [0, 1), got ${String(dropoutP)}`);
  const dropout = dropoutP > 0;
  const { threshold, keepScale } = dropoutThreshold(dropoutP, agreedConstant([forwardKernel, backwardTargetsKernel], 'DROPOUT_BITS'));
  const uniforms = {
    nodes,
    heads,
    channels,
    negativeSlope,
    dropoutSeed: dropout ? generator.nextUint32() : 0,
    dropoutThreshold: threshold,
    keepScale,
  };
  const constants = { DROPOUT: Number(dropout) };
  const { targetCsr, sourceCsr } = graph;

  const out = empty(h.shape, 'float32', op);
  const logSumExp = empty([nodes, heads], 'float32', op);
  dispatch(forwardKernel, {
    workgroups: perNodeHead(forwardKernel, nodes, heads),
    buffers: { targetCsr, h, srcScore, dstScore, out, logSumExp },
    uniforms,
    constants,
  });
  return record(
    out,
    op,
    [h, srcScore, dstScore],
    (grad) => {
      const edgeGrad = empty([graph.edges, heads, 2], 'float32', `${op} backward`);
      const dstScoreGrad = empty([nodes, heads], 'float32', `${op} backward`);
      dispatch(backwardTargetsKernel, {
        workgroups: perNodeHead(backwardTargetsKernel, nodes, heads),
        buffers: { targetCsr, h, srcScore, dstScore, logSumExp, grad, edgeGrad, dstScoreGrad },
        uniforms,
        constants,
      });
      const hGrad = empty(h.shape, 'float32', `${op} backward`);
      const srcScoreGrad = empty([nodes, heads], 'float32', `${op} backward`);
      dispatch(backwardSourcesKernel, {
        workgroups: perNodeHead(backwardSourcesKernel, nodes, heads),
        buffers: { sourceCsr, edgeGrad, grad, hGrad, srcScoreGrad },
        uniforms: { nodes, heads, channels },
      });
      edgeGrad.dispose();
      const wanted = (t: Tensor, input: Tensor) => {
        if (input.requiresGrad) return t;
        t.dispose();
        return null;
      };
      return [wanted(hGrad, h), wanted(srcScoreGrad, srcScore), wanted(dstScoreGrad, dstScore)];
    },
    [logSumExp],
  );
}
