/**
 * Launch parameters of the conv2d kernels per adapter, passed to the shaders as `override` constants
 * or used to size the dispatch. CPU adapters (lavapipe, SwiftShader) run a workgroup on one thread
 * with SIMD across invocations: small workgroups, enough of them to feed every core, and no
 * workgroup memory. Values for lavapipe were measured with bench/conv2d.ts on the 2-core dev machine.
 */
import { gpu, type AdapterDescription } from '../../engine/device.js';
import type { Conv2dGeometry } from './geometry.js';
import { sharedLoadsRun } from '../subgroups.js';

export interface Conv2dTuning {
  /** Invocations per workgroup of every conv2d kernel (the `WG` override). */
  workgroupSize: number;
  /** Backward wrt weight splits the reduction over N·OH output rows into chunks (partial sums, then
   *  a reduce): the number of chunks is chosen so that about this many invocations run. */
  weightGradInvocations: number;
  /** Fewest output rows per chunk: shorter chunks cost more in partial sums than they gain. */
  weightGradMinRows: number;
  /** Backward wrt weight, `rows` kernel: most invocations per workgroup (all share one output block). */
  weightGradRowsLanes: number;
  /** ... and the workgroups wanted in all (chunks of the reduction are added until there are). */
  weightGradRowsWorkgroups: number;
  /** Fewest output pixels per chunk of the `rows` kernel. */
  weightGradRowsMinPixels: number;
  /** Maps narrower than this many output pixels take the kernels over flattened rows (forward and
   *  backward data; where subgroups allow), wider ones the row tiles. */
  rowsBelowWidth: number;
  /** The same for the weight gradient. */
  rowsBelowWidthWeightGrad: number;
}

// With their loads shared across subgroups, the kernels over flattened rows beat the row tiles at every
// width on lavapipe (bench/conv2d.ts --all-variants: 1.5-2.9x at 56x56 and 28x28, 1.7x on the 224 stem's
// forward and 2.5x on its weight gradient); only a backward data with few input channels keeps the tiles
// (chooseBackwardDataVariant).
const cpuRows = {
  weightGradRowsLanes: 128,
  weightGradRowsWorkgroups: 32,
  weightGradRowsMinPixels: 64,
  rowsBelowWidth: Infinity,
  rowsBelowWidthWeightGrad: Infinity,
};
const lavapipe: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 16384, weightGradMinRows: 4, ...cpuRows };
const swiftshader: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 8192, weightGradMinRows: 4, ...cpuRows };
const gpuDefaults: Conv2dTuning = {
  workgroupSize: 128,
  weightGradInvocations: 262144,
  weightGradMinRows: 1,
  weightGradRowsLanes: 128,
  weightGradRowsWorkgroups: 1024,
  weightGradRowsMinPixels: 16,
  // Not measured on a GPU yet: the widths where the rows kernels won on lavapipe before their loads
  // were shared (narrow maps leave most lanes of the 8-pixel row tiles idle).
  rowsBelowWidth: 16,
  rowsBelowWidthWeightGrad: 32,
};

export function tuningFor(adapter: AdapterDescription): Conv2dTuning {
  const vendor = adapter.vendor.toLowerCase();
  const architecture = adapter.architecture.toLowerCase();
  if (architecture === 'swiftshader' || adapter.device.toLowerCase().includes('swiftshader')) return swiftshader;
  if (vendor === 'mesa' && (architecture === 'software' || adapter.device.toLowerCase().includes('llvmpipe'))) {
    return lavapipe;
  }
  return gpuDefaults;
}

let cached: { adapter: AdapterDescription; tuning: Conv2dTuning } | null = null;

/** The tuning of the current device's adapter. */
export function conv2dTuning(): Conv2dTuning {
  const { adapter } = gpu();
  if (cached?.adapter !== adapter) cached = { adapter, tuning: tuningFor(adapter) };
  return cached.tuning;
}

/** Whether a map this wide takes the kernels over flattened rows: narrower than the tuning's width, on a
 *  device where their loads can be shared (lavapipe: subgroups of 8; NVIDIA: 32); elsewhere the row
 *  tiles take every shape. */
export function preferRows(g: Conv2dGeometry, subgroupMinSize?: number, tuning = conv2dTuning()): boolean {
  return g.OW < tuning.rowsBelowWidth && sharedLoadsRun(subgroupMinSize);
}

/**
 * Invocations per workgroup for a dispatch of `invocations` independent invocations: the tuning's size,
 * or, where fewer are needed, the fewest whole subgroups (at least 8 lanes) that hold them. A CPU adapter
 * runs every invocation of a workgroup, idle or not (the kernels over flattened rows compute clamped
 * rows past the end so that their broadcasts see a full subgroup), so a 2x2 map at batch 1 (one row
 * block) costs one subgroup of work instead of eight. Results do not depend on it: no conv2d kernel
 * shares anything across its workgroup beyond a subgroup.
 */
export function fittedWorkgroupSize(invocations: number, tuning = conv2dTuning(), subgroupMinSize = gpu().subgroupMinSize): number {
  const lanes = Math.max(8, subgroupMinSize);
  return Math.min(tuning.workgroupSize, Math.max(lanes, Math.ceil(invocations / lanes) * lanes));
}

export function preferRowsForWeightGrad(g: Conv2dGeometry, subgroupMinSize?: number, tuning = conv2dTuning()): boolean {
  return g.OW < tuning.rowsBelowWidthWeightGrad && sharedLoadsRun(subgroupMinSize);
}
