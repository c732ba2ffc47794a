/** Classification metrics from logits read back to the host. */

export interface ClassificationReport {
  accuracy: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  count: number;
}

/** A fraction as a percentage with two decimals: 0.6095 → "60.95%". */
export function pct(fraction: number): string {
  return `${(100 * fraction).toFixed(2)}%`;
}

export function argmaxRows(logits: Float32Array, classes: number): Int32Array {
  const rows = logits.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

export class ConfusionMatrix {
  readonly counts: number[][];

  constructor(readonly classes: number) {
    this.counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  add(labels: ArrayLike<number>, predictions: ArrayLike<number>): void {
    for (let i = 0; i < labels.length; i++) this.counts[labels[i]][predictions[i]]++;
  }

  report(): ClassificationReport {
    const count = this.counts.flat().reduce((a, b) => a + b, 0);
    const correct = this.counts.reduce((s, row, i) => s + row[i], 0);
    return {
      accuracy: count ? correct / count : NaN,
      perClassAccuracy: this.counts.map((row, i) => {
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[i] / total : NaN;
      }),
      confusion: this.counts.map((row) => [...row]),
      count,
    };
  }
}

export function formatReport(report: ClassificationReport, classNames: string[]): string {
  const pad = Math.max(...classNames.map((n) => n.length), 9);
  const header = `${'true\\pred'.padEnd(pad)} ${classNames.map((n) => n.slice(0, 6).padStart(6)).join(' ')}   recall`;
  const rows = report.confusion.map(
    (row, i) =>
      `${classNames[i].padEnd(pad)} ${row.map((v) => String(v).padStart(6)).join(' ')}   ${(100 * report.perClassAccuracy[i]).toFixed(1).padStart(5)}%`,
  );
  return [`accuracy ${pct(report.accuracy)} on ${report.count} images`, header, ...rows].join('\n');
}
