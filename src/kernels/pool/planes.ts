/** Dispatch of the pooling kernels: one invocation per element of a grid of planes. */
import { Kernel, type Constants, type Uniforms } from '../../engine/kernel.js';
import { dispatch, workgroups1d, type Bindable } from '../../engine/recorder.js';

/** Runs `kernel` over every element of `planes` planes of height x width (uniform `count`). */
export function dispatchPlanes(
  kernel: Kernel,
  planes: number,
  [height, width]: readonly [number, number],
  args: { buffers: Record<string, Bindable>; uniforms?: Uniforms; constants?: Constants },
): void {
  const count = planes * height * width;
  dispatch(kernel, { ...args, workgroups: workgroups1d(Math.ceil(count / kernel.workgroupInvocations)), uniforms: { ...args.uniforms, count } });
}
