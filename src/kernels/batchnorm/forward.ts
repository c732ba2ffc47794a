/** Batch norm forward kernels: batch statistics, running-statistics update, normalisation. */
import { gpu } from '../../engine/device.js';
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import statsSource from '../../../shaders/batchnorm/stats.wgsl';
import updateRunningSource from '../../../shaders/batchnorm/update_running.wgsl';
import normalizeSource from '../../../shaders/batchnorm/normalize.wgsl';

const statsKernel = new Kernel('batchnorm_stats', statsSource);
const updateRunningKernel = new Kernel('batchnorm_update_running', updateRunningSource);
const normalizeKernel = new Kernel('batchnorm_normalize', normalizeSource);

/** [N, C, H, W] seen per channel: C, the plane size H*W, the N*H*W elements of each channel, and all. */
export interface ChannelLayout {
  channels: number;
  planeSize: number;
  perChannel: number;
  count: number;
}

export function channelLayout(x: Tensor): ChannelLayout {
  const [n, channels, h, w] = x.shape;
  return { channels, planeSize: h * w, perChannel: n * h * w, count: x.size };
}

/** Workgroups of the elementwise kernels: (chunks of 1024 positions, C, N), one plane per (y, z). */
export function planeWorkgroups(x: Tensor, op: string): [number, number, number] {
  const [n, c, h, w] = x.shape;
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (n > limit || c > limit) throw new Error(`${op}: input [${x.shape}] has more than ${limit} batch entries or channels`);
  return [Math.ceil((h * w) / 1024), c, n];
}

/** Per-channel mean and biased variance of x (one workgroup per channel). */
export function batchStats(x: Tensor, layout: ChannelLayout): { mean: Tensor; variance: Tensor } {
  const mean = empty([layout.channels], 'float32', 'batchNorm2d mean');
  const variance = empty([layout.channels], 'float32', 'batchNorm2d variance');
  dispatch(statsKernel, {
    workgroups: workgroups1d(layout.channels),
    buffers: { x, mean, variance },
    uniforms: { ...layout },
  });
  return { mean, variance };
}

/** In place: running = (1 - momentum) * running + momentum * batch statistic (variance made unbiased). */
export function updateRunningStats(
  runningMean: Tensor,
  runningVar: Tensor,
  mean: Tensor,
  variance: Tensor,
  layout: ChannelLayout,
  momentum: number,
): void {
  dispatch(updateRunningKernel, {
    workgroups: [Math.ceil(layout.channels / 64)],
    buffers: { mean, variance, runningMean, runningVar },
    uniforms: { channels: layout.channels, momentum, unbias: layout.perChannel / (layout.perChannel - 1) },
  });
}

/** y = (x - mean) / sqrt(variance + eps) * weight + bias, per channel. */
export function normalize(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  weight: Tensor,
  bias: Tensor,
  layout: ChannelLayout,
  eps: number,
): Tensor {
  const y = empty(x.shape, 'float32', 'batchNorm2d');
  dispatch(normalizeKernel, {
    workgroups: planeWorkgroups(x, 'batchNorm2d'),
    buffers: { x, mean, variance, weight, bias, y },
    uniforms: { planeSize: layout.planeSize, eps },
  });
  return y;
}
