/**
 * Numerical-fault diagnosis: re-runs a computation watching every op's output and every gradient,
 * and names the first one holding a NaN or an infinity.
 */
import { observeOps } from '../engine/autograd.js';
import { nonFiniteFlagOf } from '../optim/index.js';
import { keep, tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';

/** The first op output or gradient of `run` that is not finite, described, or null if all are. */
export async function locateNonFinite(run: () => void): Promise<string | null> {
  const checks: [string, Tensor][] = [];
  tidy(() =>
    observeOps((what, value) => {
      if (value.dtype === 'float32' && value.size > 0) checks.push([what, keep(nonFiniteFlagOf([value]))]);
    }, run),
  );
  let found: string | null = null;
  for (const [what, flag] of checks) {
    if (found === null && (await flag.item()) !== 0) found = what;
    flag.dispose();
  }
  return found;
}

export class NonFiniteError extends Error {}
