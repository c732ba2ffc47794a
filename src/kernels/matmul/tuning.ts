/**
 * Which matmul kernel to run on which adapter, and its workgroup shape. On adapters that run compute
 * shaders on the CPU (lavapipe reports architecture 'software', Chromium's SwiftShader 'swiftshader')
 * workgroup memory and barriers are expensive and register blocking wins (its loads shared across
 * subgroups of at least 8 lanes: without those, the tiles); on GPUs, tiles staged in workgroup memory
 * win. See ../shared/notes/webgpu-on-cpu.md for the measurements.
 */
import { gpu } from '../../engine/device.js';
import { wgslConstants } from '../../engine/kernel.js';
import { SHARED_LANES, sharedLoadsMissing, sharedLoadsRun } from '../subgroups.js';
import tiledSource from '../../../shaders/matmul/tiled.wgsl';

/** tiled.wgsl sizes its workgroup-memory tiles for at most this many invocations along each axis. */
const TILED_MAX_WORKGROUP = wgslConstants(tiledSource).get('MAX_WG')!;

export type MatmulVariant = 'registers' | 'tiled';

export interface MatmulTuning {
  variant: MatmulVariant;
  /** Invocations per workgroup along x (columns) and y (rows): the tiled kernel's WG_X and WG_Y; the
   *  registers kernel's WG is x, a multiple of 8, with y = 1 (the workgroup shares its rows). */
  workgroup: readonly [number, number];
}

/** Keyed by `GPUAdapterInfo.architecture`. */
export const tuningByArchitecture: Readonly<Record<string, MatmulTuning>> = {
  software: { variant: 'registers', workgroup: [16, 1] },
  swiftshader: { variant: 'registers', workgroup: [16, 1] },
};

/** Every other adapter (a real GPU). */
export const gpuTuning: MatmulTuning = { variant: 'tiled', workgroup: [16, 16] };

let forced: MatmulTuning | null = null;

/** The tuning in effect: the forced one if set, else the table's entry for this adapter, which gives way
 *  to the tiles where register blocking cannot share its loads (no subgroups of 8 lanes). */
export function matmulTuning(): MatmulTuning {
  if (forced) {
    // Forced on an earlier device (release() and init() since) that had the subgroups this one lacks.
    throwUnlessRunnable('matmul', forced);
    return forced;
  }
  const listed = tuningByArchitecture[gpu().adapter.architecture] ?? gpuTuning;
  return listed.variant === 'registers' && !sharedLoadsRun() ? gpuTuning : listed;
}

function throwUnlessRunnable(op: string, tuning: MatmulTuning, subgroupMinSize?: number): void {
  const missing = tuning.variant === 'registers' ? sharedLoadsMissing(subgroupMinSize) : null;
  if (missing) throw new Error(`${op}: the forced tuning registers [${tuning.workgroup}] ${missing} (force 'tiled')`);
}

/** Forces a tuning (benchmarks, and tests of the variant this adapter would not pick); null restores
 *  the table. A tuning this device cannot run is refused, not replaced. `subgroupMinSize` stands in for
 *  the device's, to test that refusal on adapters that do have subgroups. */
export function setMatmulTuning(tuning: MatmulTuning | null, subgroupMinSize?: number): void {
  if (tuning) {
    const [x, y] = tuning.workgroup;
    const limit = gpu().limits.maxComputeInvocationsPerWorkgroup;
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 1 || y < 1 || x * y > limit) {
      throw new Error(`setMatmulTuning: workgroup [${tuning.workgroup}] must be positive integers with x·y ≤ ${limit}`);
    }
    if (tuning.variant === 'tiled' && (x > TILED_MAX_WORKGROUP || y > TILED_MAX_WORKGROUP)) {
      throw new Error(
        `setMatmulTuning: tiled workgroup [${tuning.workgroup}] exceeds the kernel's ${TILED_MAX_WORKGROUP} × ${TILED_MAX_WORKGROUP} maximum`,
      );
    }
    // registers.wgsl broadcasts within full subgroups of one row block.
    if (tuning.variant === 'registers' && (y !== 1 || x % SHARED_LANES !== 0)) {
      throw new Error(`setMatmulTuning: registers workgroup [${tuning.workgroup}] must be [a multiple of ${SHARED_LANES}, 1]`);
    }
    throwUnlessRunnable('setMatmulTuning', tuning, subgroupMinSize);
  }
  forced = tuning;
}
