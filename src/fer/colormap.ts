/**
 * The one colour scale of the maps the page and the CLI's pictures draw (viridis: dark blue, low, to
 * yellow, high; perceptually even and readable in gray), and the round tick values of their axes.
 * Host-only, no dependencies, so that both web/ and src/fer/plot.ts use it.
 */

/** Viridis at 0, 1/8, ..., 1 (matplotlib's table, sampled). */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** The colour of t in [0, 1] (clamped; NaN is gray). */
export function viridis(t: number): [number, number, number] {
  if (!Number.isFinite(t)) return [128, 128, 128];
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k]))) as [number, number, number];
}

/** Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart), about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A tick value with no more digits than its step needs ("0.5", "20", "1e+6"). */
export function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-4) return value.toExponential(0);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

/** The smallest round number >= v (1, 2, 2.5 or 5 times a power of ten), for an axis maximum. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= v * (1 - 1e-12)) ?? 10 * power);
}
