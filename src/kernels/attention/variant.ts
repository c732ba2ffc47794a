/**
 * Which fused attention forward runs on which adapter. 'shared' (attention_forward_shared.wgsl: a
 * workgroup's lanes own adjacent query rows of one head and share each k / v element with
 * subgroupBroadcast) where subgroups have at least SHARED_LANES lanes (`sharedLoadsRun()`); 'plain'
 * (attention_forward.wgsl: every lane loads its own copy of each k / v row) elsewhere. The backward
 * kernels are the same for both.
 */
import { sharedLoadsMissing, sharedLoadsRun } from '../subgroups.js';

export type AttentionForwardVariant = 'plain' | 'shared';

let forced: AttentionForwardVariant | null = null;

/** The variant in effect: the forced one if set, else 'shared' where its broadcasts can run. */
export function attentionForwardVariant(): AttentionForwardVariant {
  if (forced) {
    // Forced on an earlier device (release() and init() since) that had the subgroups this one lacks.
    throwUnlessRunnable('scaledDotProductAttention', forced);
    return forced;
  }
  return sharedLoadsRun() ? 'shared' : 'plain';
}

function throwUnlessRunnable(op: string, variant: AttentionForwardVariant, subgroupMinSize?: number): void {
  const missing = variant === 'shared' ? sharedLoadsMissing(subgroupMinSize) : null;
  if (missing) throw new Error(`${op}: the forced forward variant 'shared' ${missing} (force 'plain')`);
}

/** Forces a forward variant (tests of the variant this adapter would not pick, benchmarks); null
 *  restores the choice by adapter. A variant this device cannot run is refused, not replaced;
 *  `subgroupMinSize` stands in for the device's, to test that refusal. */
export function setAttentionForwardVariant(variant: AttentionForwardVariant | null, subgroupMinSize?: number): void {
  if (variant !== null && variant !== 'plain' && variant !== 'shared') {
    throw new Error(`setAttentionForwardVariant: expected 'plain', 'shared' or null, got ${String(variant)}`);
  }
  if (variant) throwUnlessRunnable('setAttentionForwardVariant', variant, subgroupMinSize);
  forced = variant;
}
