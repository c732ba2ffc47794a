/**
 * Launch parameters of the conv2d kernels per adapter, passed to the shaders as `override` constants
 * or used to size the dispatch. CPU adapters (lavapipe, SwiftShader) run a workgroup on one thread
 * with SIMD across invocations: small workgroups, enough of them to feed every core, and no
 * workgroup memory. Values for lavapipe were measured with bench/conv2d.ts on the 2-core dev machine.
 */
import { gpu, type AdapterDescription } from '../../engine/device.js';

export interface Conv2dTuning {
  /** Invocations per workgroup of every conv2d kernel (the `WG` override). */
  workgroupSize: number;
  /** Backward wrt weight splits the reduction over N·OH output rows into chunks (partial sums, then
   *  a reduce): the number of chunks is chosen so that about this many invocations run. */
  weightGradInvocations: number;
  /** Fewest output rows per chunk: shorter chunks cost more in partial sums than they gain. */
  weightGradMinRows: number;
}

const lavapipe: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 16384, weightGradMinRows: 4 };
const swiftshader: Conv2dTuning = { workgroupSize: 64, weightGradInvocations: 8192, weightGradMinRows: 4 };
const gpuDefaults: Conv2dTuning = { workgroupSize: 128, weightGradInvocations: 262144, weightGradMinRows: 1 };

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
