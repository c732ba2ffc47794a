/**
 * Kernels that share a load across lanes: the `<shared8>` block of conv2d/*_rows.wgsl and
 * matmul/registers.wgsl hands the values of lanes 0..7 to every lane with subgroupBroadcast (lavapipe
 * otherwise issues a load all lanes share once per lane). They run only where subgroups have at least
 * that many lanes; elsewhere their families choose other kernels.
 */
import { gpu } from '../engine/device.js';

/** Lanes one shared load serves: the width of `shared8`. */
export const SHARED_LANES = 8;

/** Whether kernels built on `shared8` can run on this device (or with the given subgroup size). */
export function sharedLoadsRun(subgroupMinSize = gpu().subgroupMinSize): boolean {
  return subgroupMinSize >= SHARED_LANES;
}
