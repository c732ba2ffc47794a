/** Dispatch over planes for the pooling kernels: 8x8 tiles of (columns, rows), one z-slice per plane. */
import { gpu } from '../../engine/device.js';
import { Kernel, type Constants, type Uniforms } from '../../engine/kernel.js';
import { dispatch, type Bindable } from '../../engine/recorder.js';

/** Runs `kernel` over `planes` planes of height x width, in several dispatches (uniform `firstPlane`)
 *  when there are more planes than one dispatch dimension holds. */
export function dispatchPlanes(
  kernel: Kernel,
  planes: number,
  [height, width]: readonly [number, number],
  args: { buffers: Record<string, Bindable>; uniforms: Uniforms; constants?: Constants },
): void {
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  for (let firstPlane = 0; firstPlane < planes; firstPlane += limit) {
    dispatch(kernel, {
      ...args,
      workgroups: [Math.ceil(width / 8), Math.ceil(height / 8), Math.min(planes - firstPlane, limit)],
      uniforms: { ...args.uniforms, firstPlane },
    });
  }
}
