/**
 * Launch parameters of the conv2d kernels per adapter, passed to the shaders as `override` constants
 * or used to size the dispatch. CPU adapters (lavapipe, SwiftShader) run a workgroup on one thread
 * with SIMD across invocations: small workgroups, enough of them to feed every core, and no
 * workgroup memory. Values for lavapipe were measured with bench/conv2d.ts on the 2-core dev machine.
 */
import { gpu, type AdapterDescription } from '../../engine/device.js';
import type { Conv2dGeometry } from './geometry.js';

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
}

const cpuRows = { weightGradRowsLanes: 128, weightGradRowsWorkgroups: 32, weightGradRowsMinPixels: 64 };
const lavapipe: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 16384, weightGradMinRows: 4, ...cpuRows };
const swiftshader: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 8192, weightGradMinRows: 4, ...cpuRows };
const gpuDefaults: Conv2dTuning = {
  workgroupSize: 128,
  weightGradInvocations: 262144,
  weightGradMinRows: 1,
  weightGradRowsLanes: 128,
  weightGradRowsWorkgroups: 1024,
  weightGradRowsMinPixels: 16,
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

/**
 * Maps narrower than this many output pixels leave most lanes of the 8-pixel row tiles idle: there
 * the kernels over flattened rows win (measured on lavapipe with `bench/conv2d.ts --pcnn`: 1.5-5x on
 * PCNN's 12×12 to 1×2 maps).
 */
const WIDE_ROWS = 16;
/** The weight gradient over flattened rows also beat the row tiles on PCNN's 24-wide stem (3-4x in a
 *  training step) and matched them on 28×28 ResNet maps; wider maps keep the tiles. */
const WIDE_ROWS_WEIGHT_GRAD = 32;

/** Lanes that share one load of the uniform operand (weights, or the output gradient) by
 *  subgroupBroadcast in the kernels over flattened rows: must match COLS in their shaders. Without
 *  that sharing lavapipe loads a uniform address once per lane, and the rows kernels were 1.5-2x slower
 *  (bench/conv2d.ts --pcnn); they now need subgroups of at least this many lanes. */
export const ROWS_SHARED_LANES = 8;

/** Whether the kernels over flattened rows can run: the device has subgroups of at least
 *  ROWS_SHARED_LANES lanes (lavapipe: 8; NVIDIA: 32). Elsewhere the row-tile kernels take every shape. */
export function rowsKernelsRun(subgroupMinSize = gpu().subgroupMinSize): boolean {
  return subgroupMinSize >= ROWS_SHARED_LANES;
}

export function preferRows(g: Conv2dGeometry, subgroupMinSize?: number): boolean {
  return g.OW < WIDE_ROWS && rowsKernelsRun(subgroupMinSize);
}

export function preferRowsForWeightGrad(g: Conv2dGeometry, subgroupMinSize?: number): boolean {
  return g.OW < WIDE_ROWS_WEIGHT_GRAD && rowsKernelsRun(subgroupMinSize);
}
