/**
 * Which fused attention kernels run on which adapter (the forward, dQ and dK / dV kernels of one family;
 * the row-dot pass of the backward is the same for all):
 * - 'shared' (attention_*_shared.wgsl), where subgroups have at least SHARED_LANES lanes
 *   (`sharedLoadsRun()`): a workgroup's lanes own adjacent rows of one head and share each element of
 *   the rows they all walk with subgroupBroadcast;
 * - 'tiled' (attention_*_tiled.wgsl), GPUs without them: the workgroup loads tiles of those rows into
 *   8 KiB of workgroup memory (WebGPU's default limit is 16 KiB), between barriers;
 * - 'plain' (attention_forward.wgsl, attention_backward_query.wgsl, attention_backward_key.wgsl), CPU
 *   adapters without them (SwiftShader): one invocation per row, each lane loading its own copy. There a
 *   workgroup-memory read costs what a storage read costs and every barrier is expensive: on lavapipe,
 *   forced, 'tiled' took 13.1 s for the 1x8x1024x64 forward that 'shared' does in 1.0 s.
 */
import { sharedLoadsMissing, sharedLoadsRun } from '../subgroups.js';
import { cpuAdapter, gpu } from '../../engine/device.js';

export type AttentionVariant = 'plain' | 'tiled' | 'shared';
const VARIANTS: readonly AttentionVariant[] = ['plain', 'tiled', 'shared'];

let forced: AttentionVariant | null = null;

/** The variant in effect: the forced one if set, else the adapter's (see above). */
export function attentionVariant(): AttentionVariant {
  if (forced) {
    // Forced on an earlier device (release() and init() since) that had the subgroups this one lacks.
    throwUnlessRunnable('scaledDotProductAttention', forced);
    return forced;
  }
  if (sharedLoadsRun()) return 'shared';
  return cpuAdapter(gpu().adapter) ? 'plain' : 'tiled';
}

function throwUnlessRunnable(op: string, variant: AttentionVariant, subgroupMinSize?: number): void {
  const missing = variant === 'shared' ? sharedLoadsMissing(subgroupMinSize) : null;
  if (missing) throw new Error(`${op}: the forced variant 'shared' ${missing} (force 'tiled')`);
}

/** Forces a variant (tests of the variant this adapter would not pick, benchmarks); null
 *  restores the choice by adapter. A variant this device cannot run is refused, not replaced;
 *  `subgroupMinSize` stands in for the device's, to test that refusal. */
export function setAttentionVariant(variant: AttentionVariant | null, subgroupMinSize?: number): void {
  if (variant !== null && !VARIANTS.includes(variant)) {
    throw new Error(`setAttentionVariant: expected ${VARIANTS.map((v) => `'${v}'`).join(', ')} or null, got ${String(variant)}`);
  }
  if (variant) throwUnlessRunnable('setAttentionVariant', variant, subgroupMinSize);
  forced = variant;
}
