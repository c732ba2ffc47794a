/**
 * A run's recipe is what decides the weights it computes; it is saved with the run (a checkpoint's
 * metadata, a cv fold's result.json) so that `--resume` continues only the run that was asked for.
 * The comparison goes field by field, into nested objects (the model's configuration), and names each
 * field that differs; a field absent on one side and unset on the other is the same.
 */

/** Refuses to resume the run saved in `file` under another recipe. */
export function checkSameRecipe(file: string, saved: object, requested: object): void {
  const differences = recipeDifferences(saved, requested);
  if (differences.length) {
    throw new Error(`--resume: the recipe differs from the saved run's (${file}): ${differences.join(', ')}; use another --out for a new run`);
  }
}

/** Each field where `requested` differs from `saved`, as `name requested (saved value)`. */
function recipeDifferences(saved: unknown, requested: unknown, field = ''): string[] {
  if (isRecord(saved) && isRecord(requested)) {
    const names = [...new Set([...Object.keys(saved), ...Object.keys(requested)])];
    return names.flatMap((name) => recipeDifferences(saved[name], requested[name], field ? `${field}.${name}` : name));
  }
  return describe(saved) === describe(requested) ? [] : [`${field} ${describe(requested)} (saved ${describe(saved)})`];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? 'unset';
}
