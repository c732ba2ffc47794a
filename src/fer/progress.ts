/** A one-line progress bar on stderr (redrawn in place on a terminal, one line per update otherwise). */
export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, fields: Record<string, string>): void {
    const now = Date.now();
    const final = done >= this.total;
    if (!final && now - this.lastDraw < (this.stream.isTTY ? 100 : 10_000)) return;
    this.lastDraw = now;
    const fraction = this.total ? done / this.total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = '='.repeat(Math.max(filled - 1, 0)) + (filled ? (final ? '=' : '>') : '') + ' '.repeat(width - filled);
    const elapsed = (now - this.start) / 1000;
    const eta = fraction > 0 ? elapsed / fraction - elapsed : NaN;
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ');
    const line = `${this.label} [${bar}] ${(100 * fraction).toFixed(0).padStart(3)}%  ${extra}  ${final ? formatSeconds(elapsed) : 'ETA ' + formatSeconds(eta)}`;
    if (this.stream.isTTY) this.stream.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    else this.stream.write(line + '\n');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
