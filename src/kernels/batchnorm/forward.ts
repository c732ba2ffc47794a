/** Batch norm forward: the per-channel table (batch statistics in training, running ones in eval). */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import statsSource from '../../../shaders/batchnorm/stats.wgsl';
import tableSource from '../../../shaders/batchnorm/table.wgsl';

const statsKernel = new Kernel('batchnorm_stats', statsSource);
const tableKernel = new Kernel('batchnorm_table', tableSource);

/** [N, C, H, W] seen per channel: N, C, the plane size H*W and all N*C*H*W elements. */
export interface ChannelLayout {
  batch: number;
  channels: number;
  planeSize: number;
  count: number;
}

export function channelLayout(x: Tensor): ChannelLayout {
  const [batch, channels, h, w] = x.shape;
  return { batch, channels, planeSize: h * w, count: x.size };
}

/** Elements each reduction invocation sums at least (channels permitting) before a channel gets more
 *  invocations: fewer, busier invocations per channel pay fewer barrier steps. On lavapipe, PCNN's
 *  shapes measured alike from 64 to 256 and slower at 16 and below. */
const ELEMENTS_PER_LANE = 64;

/** Dispatch of `kernel`, stats.wgsl or grad_sums.wgsl: LANES invocations per channel, a power of two up
 *  to the workgroup, as many as give each ELEMENTS_PER_LANE or more of the channel's N*H*W elements. */
export function reductionDispatch(kernel: Kernel, layout: ChannelLayout): { workgroups: [number, number, number]; lanes: number } {
  const invocations = kernel.workgroupInvocations;
  const perLane = Math.floor((layout.batch * layout.planeSize) / ELEMENTS_PER_LANE);
  const lanes = Math.min(invocations, 2 ** Math.floor(Math.log2(Math.max(perLane, 1))));
  return { workgroups: workgroups1d(Math.ceil(layout.channels / (invocations / lanes))), lanes };
}

/** [C, 4]: per channel (mean, invstd * weight, bias, invstd), invstd = 1 / sqrt(variance + eps). */
const newTable = (layout: ChannelLayout) => empty([layout.channels, 4], 'float32', 'batchNorm2d statistics');

/** What the statistics pass updates besides the table (BatchNorm2d's buffers). */
export interface RunningState {
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  momentum: number;
  /** int32 counter incremented by one (num_batches_tracked), or null; k counters: one per block of
   *  channels / k channels (the stacked channels of k batch norms). */
  batchCount: Tensor | null;
}

/** The table from the batch's mean and biased variance (a reduction per channel); in the same dispatch,
 *  running = (1 - momentum) * running + momentum * batch statistic (variance made unbiased) and batchCount += 1. */
export function batchStats(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  layout: ChannelLayout,
  eps: number,
  { runningMean, runningVar, momentum, batchCount }: RunningState,
): Tensor {
  const table = newTable(layout);
  // WebGPU needs every binding, and distinct ones where they are writable.
  const placeholders: Tensor[] = [];
  const orPlaceholder = (t: Tensor | null, dtype: 'float32' | 'int32') => {
    if (t) return t;
    const placeholder = empty([1], dtype, 'batchNorm2d placeholder');
    placeholders.push(placeholder);
    return placeholder;
  };
  const perChannel = layout.batch * layout.planeSize;
  const { workgroups, lanes } = reductionDispatch(statsKernel, layout);
  dispatch(statsKernel, {
    workgroups,
    buffers: {
      x,
      weight,
      bias,
      table,
      runningMean: orPlaceholder(runningMean, 'float32'),
      runningVar: orPlaceholder(runningVar, 'float32'),
      batchCount: orPlaceholder(batchCount, 'int32'),
    },
    uniforms: {
      channels: layout.channels,
      planeSize: layout.planeSize,
      batch: layout.batch,
      eps,
      momentum,
      unbias: perChannel / (perChannel - 1),
      channelsPerCount: layout.channels / (batchCount?.size ?? 1),
    },
    constants: { UPDATE_RUNNING: runningMean ? 1 : 0, COUNT_BATCH: batchCount ? 1 : 0, LANES: lanes },
  });
  // Safe right after recording: whoever reuses the pooled buffers is recorded later.
  for (const t of placeholders) t.dispose();
  return table;
}

/** The table from given statistics (eval: the running ones), copied so that later updates do not reach it. */
export function statisticsTable(
  mean: Tensor,
  variance: Tensor,
  weight: Tensor,
  bias: Tensor,
  layout: ChannelLayout,
  eps: number,
): Tensor {
  const table = newTable(layout);
  dispatch(tableKernel, {
    workgroups: [Math.ceil(layout.channels / tableKernel.workgroupInvocations)],
    buffers: { mean, variance, weight, bias, table },
    uniforms: { channels: layout.channels, eps },
  });
  return table;
}
