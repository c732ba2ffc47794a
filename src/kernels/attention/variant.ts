/**
 * Which fused attention kernels run on which adapter. 'shared' (attention_forward_shared.wgsl,
 * attention_backward_query_shared.wgsl, attention_backward_key_shared.wgsl: a workgroup's lanes own
 * adjacent rows of one head and share each element of the rows they all walk with subgroupBroadcast)
 * where subgroups have at least SHARED_LANES lanes (`sharedLoadsRun()`); 'plain' (attention_forward.wgsl,
 * attention_backward_query.wgsl, attention_backward_key.wgsl: every lane loads its own copy of each row)
 * elsewhere. The row-dot pass of the backward is the same for both.
 */
import { sharedLoadsMissing, sharedLoadsRun } from '../subgroups.js';

export type AttentionVariant = 'plain' | 'shared';

let forced: AttentionVariant | null = null;

/** The variant in effect: the forced one if set, else 'shared' where its broadcasts can run. */
export function attentionVariant(): AttentionVariant {
  if (forced) {
    // Forced on an earlier device (release() and init() since) that had the subgroups this one lacks.
    throwUnlessRunnable('scaledDotProductAttention', forced);
    return forced;
  }
  return sharedLoadsRun() ? 'shared' : 'plain';
}

function throwUnlessRunnable(op: string, variant: AttentionVariant, subgroupMinSize?: number): void {
  const missing = variant === 'shared' ? sharedLoadsMissing(subgroupMinSize) : null;
  if (missing) throw new Error(`${op}: the forced variant 'shared' ${missing} (force 'plain')`);
}

/** Forces a variant (tests of the variant this adapter would not pick, benchmarks); null
 *  restores the choice by adapter. A variant this device cannot run is refused, not replaced;
 *  `subgroupMinSize` stands in for the device's, to test that refusal. */
export function setAttentionVariant(variant: AttentionVariant | null, subgroupMinSize?: number): void {
  if (variant !== null && variant !== 'plain' && variant !== 'shared') {
    throw new Error(`setAttentionVariant: expected 'plain', 'shared' or null, got ${String(variant)}`);
  }
  if (variant) throwUnlessRunnable('setAttentionVariant', variant, subgroupMinSize);
  forced = variant;
}
