/**
 * Kernels that share a load across lanes: the `<shared8>` block of conv2d/*_rows.wgsl and
 * matmul/registers.wgsl hands the values of lanes 0..7 to every lane with subgroupBroadcast (lavapipe
 * otherwise issues a load all lanes share once per lane). They run only where subgroups have at least
 * that many lanes; elsewhere their families choose other kernels.
 */
import { gpu } from '../engine/device.js';
import { wgslConstants } from '../engine/kernel.js';
import forwardRowsSource from '../../shaders/conv2d/forward_rows.wgsl';

/** Lanes one shared load serves: the width of `shared8`, the `SHARED` const of the shaders that carry it
 *  (read from one; a test checks that every carrier declares the same). */
export const SHARED_LANES = wgslConstants(forwardRowsSource).get('SHARED')!;

/** Whether kernels built on `shared8` can run on this device (or with the given subgroup size). */
export function sharedLoadsRun(subgroupMinSize = gpu().subgroupMinSize): boolean {
  return subgroupMinSize >= SHARED_LANES;
}

/** Why kernels built on `shared8` cannot run on this device (or with the given subgroup size), for an
 *  error naming the kernel; null where they can. */
export function sharedLoadsMissing(subgroupMinSize = gpu().subgroupMinSize): string | null {
  if (sharedLoadsRun(subgroupMinSize)) return null;
  const has = subgroupMinSize > 0 ? `subgroups of as few as ${subgroupMinSize} lanes` : 'no subgroups';
  return `needs the 'subgroups' feature with at least ${SHARED_LANES} lanes per subgroup; this device has ${has}`;
}
