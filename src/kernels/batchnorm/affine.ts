/** Batch norm's elementwise passes: a per-channel affine map of one or two inputs, coefficients from a table. */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import type { ChannelLayout } from './forward.js';
import source from '../../../shaders/batchnorm/channel_affine.wgsl';

const kernel = new Kernel('batchnorm_affine', source);

/** The shader's `const` for each MODE. */
const modes = { normalize: 'MODE_NORMALIZE', scale: 'MODE_SCALE', gradient: 'MODE_GRADIENT' } as const;

/**
 * With t = table[c] of the element's channel:
 *  normalize: (a - t.x) * t.y + t.z (+ b when given: a residual) (then ReLU when `relu`);
 *  scale: a * t.y;  gradient: (a - t.x) * t.y + (b - t.z) * t.w.
 * `mask` (scale and gradient): a is first masked by a ReLU, a = 0 where mask <= 0 (the ReLU's output).
 */
export function channelAffine(
  mode: keyof typeof modes,
  a: Tensor,
  table: Tensor,
  layout: ChannelLayout,
  label: string,
  b: Tensor | null = null,
  relu = false,
  mask: Tensor | null = null,
): Tensor {
  const out = empty(a.shape, 'float32', label);
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil(Math.ceil(layout.count / 4) / kernel.constant('VEC4S_PER_WORKGROUP'))),
    buffers: { a, b: b ?? a, table, out, m: mask ?? a },
    uniforms: { count: layout.count, planeSize: layout.planeSize, channels: layout.channels },
    constants: {
      MODE: kernel.constant(modes[mode]),
      ALIGNED: layout.planeSize % 4 === 0 ? 1 : 0,
      ADD_B: mode === 'normalize' && b ? 1 : 0,
      RELU: relu ? 1 : 0,
      MASK: mode !== 'normalize' && mask ? 1 : 0,
    },
  });
  return out;
}
