// Shared test helpers: the device, seeded data, float64 comparisons and the gradient check.
import { init } from '../../src/engine/device.js';
import { Generator } from '../../src/engine/random.js';
import { tensor, type Tensor } from '../../src/engine/tensor.js';
import { noGrad } from '../../src/engine/autograd.js';
import { tidy } from '../../src/engine/scope.js';
import { timeKernels } from '../../src/engine/recorder.js';

export const device = await init();

/** The repository's root (set by scripts/test.mjs), for fixture files read at run time. */
export const repoRoot = process.env.PCNN_ROOT ?? process.cwd();

/** Seeded uniform data in [low, high). */
export function randomData(n: number, seed: number, low = -1, high = 1): Float64Array {
  const g = new Generator(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = g.uniform(low, high);
  return out;
}

/** Throws with the worst element when |actual - expected| > atol + rtol * |expected| anywhere. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  { atol = 1e-5, rtol = 1e-4 } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= worstExcess) || Number.isNaN(actual[i]) !== Number.isNaN(expected[i])) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${atol}, rtol ${rtol}; ${actual.length} elements)`,
    );
  }
}

/**
 * Throws when ‖actual − expected‖ / ‖expected‖ > rtol (Euclidean norms over the whole tensor), naming
 * that error and the relative error of the norm itself. For tensors whose values span orders of
 * magnitude, where any elementwise atol loose enough for the large entries lets the small ones be
 * zeroed or change sign; the norm of the difference sees them all. The norm's own relative error is
 * at most the difference's (triangle inequality), so it is reported, not checked separately.
 */
export function assertCloseInNorm(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, { rtol }: { rtol: number }): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let differenceSquared = 0;
  let actualSquared = 0;
  let expectedSquared = 0;
  for (let i = 0; i < actual.length; i++) {
    differenceSquared += (actual[i] - expected[i]) ** 2;
    actualSquared += actual[i] ** 2;
    expectedSquared += expected[i] ** 2;
  }
  const expectedNorm = Math.sqrt(expectedSquared);
  const differenceError = Math.sqrt(differenceSquared) / expectedNorm;
  const normError = Math.abs(Math.sqrt(actualSquared) - expectedNorm) / expectedNorm;
  // Written so that NaN in actual fails, and so does an all-zero expected (0 / 0), which has no scale.
  if (!(differenceError <= rtol)) {
    throw new Error(
      `${what}: ‖actual − expected‖ / ‖expected‖ = ${differenceError.toExponential(3)} > ${rtol} ` +
        `(norm ${Math.sqrt(actualSquared)}, expected ${expectedNorm}: relative error ${normError.toExponential(3)}; ` +
        `${actual.length} elements)`,
    );
  }
}

export interface GradCheckInput {
  shape: number[];
  data: Float64Array;
}

/**
 * Checks the GPU backward of `op` against central finite differences of `reference`, a float64
 * implementation of the same forward. The scalar checked is sum(op(x) * w) for fixed random weights w,
 * so every output element's gradient path is exercised. Inputs listed in `skip` are not checked.
 */
export async function gradCheck(
  what: string,
  inputs: GradCheckInput[],
  op: (...xs: Tensor[]) => Tensor,
  reference: (...xs: Float64Array[]) => Float64Array,
  { eps = 1e-6, atol = 2e-4, rtol = 2e-3, skip = [] as number[], seed = 99 } = {},
): Promise<void> {
  const base = reference(...inputs.map((x) => x.data));
  const weights = randomData(base.length, seed);
  const tensors = inputs.map((x, i) => tensor(Float32Array.from(x.data), x.shape, { requiresGrad: !skip.includes(i) }));
  const gradients = tidy(() => {
    const out = op(...tensors);
    if (out.size !== base.length) throw new Error(`${what}: op gave ${out.size} values, reference ${base.length}`);
    out.backward(tensor(Float32Array.from(weights), out.shape));
    return tensors.map((t) => t.grad);
  });
  for (let k = 0; k < inputs.length; k++) {
    if (skip.includes(k)) continue;
    const analytic = await gradients[k]!.toArray();
    const numeric = new Float64Array(inputs[k].data.length);
    for (let i = 0; i < numeric.length; i++) {
      const plus = inputs.map((x) => x.data.slice());
      const minus = inputs.map((x) => x.data.slice());
      plus[k][i] += eps;
      minus[k][i] -= eps;
      const fPlus = reference(...plus);
      const fMinus = reference(...minus);
      let d = 0;
      for (let j = 0; j < weights.length; j++) d += weights[j] * (fPlus[j] - fMinus[j]);
      numeric[i] = d / (2 * eps);
    }
    assertClose(analytic, numeric, `${what}: gradient of input ${k}`, { atol, rtol });
  }
  for (const t of tensors) {
    t.grad?.dispose();
    t.dispose();
  }
}

/**
 * The names of the kernels `fn` dispatches, in order, seen through the recorder's per-dispatch
 * timestamp queries (the one view of what actually ran that needs no debug output). Throws on an
 * adapter without timestamps rather than letting a check of them pass unseen. What `fn` makes is disposed.
 */
export async function kernelsDispatched(fn: () => void): Promise<string[]> {
  const timed = await timeKernels(() => noGrad(() => tidy(fn)));
  if (!timed) throw new Error(`kernelsDispatched: adapter ${device.adapter.architecture} has no timestamp queries, so which kernels ran cannot be seen`);
  return timed.map((d) => d.label);
}

/**
 * The text between a WGSL source's `// <name> ...` and `// </name>` lines, or null where it has none.
 * WGSL has no imports and our shaders are not concatenated, so a rule several shaders need is copied
 * between such marked lines, and the tests check that the copies have not drifted.
 */
export function markedBlock(source: string, name: string): string | null {
  return new RegExp(`// <${name}>[^\\n]*\\n([\\s\\S]*?)// </${name}>`).exec(source)?.[1] ?? null;
}

/** Runs `fn` without grad and reads its result back. */
export async function run(fn: () => Tensor): Promise<Float32Array> {
  const out = noGrad(() => tidy(fn));
  const values = await out.toArray();
  out.dispose();
  return values;
}
