/** The suite's output: terminal tables, the floors against TF.js and PyTorch, JSON and a PNG chart. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AdapterDescription } from '../src/engine/device.js';
import { barChart } from '../src/fer/plot.js';
import type { Stats, Timing } from './harness.js';
import type { Ceiling } from './ceiling.js';
import type { KernelResult } from './kernels.js';
import type { PcnnResult } from './pcnn.js';

export interface Floor {
  what: string;
  /** Required TF.js time / ours (or, for the PCNN step, the most seconds allowed). */
  floor: number;
  measured: number | null;
  /** The weakest single shape behind an aggregate. */
  worst?: { name: string; value: number };
  met: boolean | null;
}

export interface Results {
  date: string;
  adapter: AdapterDescription;
  command: string;
  /** HEAD of the working tree the suite was built from, `+dirty` with uncommitted changes. */
  commit: string;
  quick: boolean;
  reps: number;
  tfjs: { loaded: boolean; version?: string; error?: string };
  ceiling: Ceiling;
  kernels: KernelResult[];
  pcnn: PcnnResult[];
  /** PCNN configurations not run, with why. */
  pcnnSkipped: { name: string; reason: string }[];
  floors: Floor[];
}

const fixed = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
/** `median [min–max]`: the range matters on a shared machine. */
export const range = (s: Stats) => `${fixed(s.median)} [${fixed(s.min)}–${fixed(s.max)}]`;
const ms = (t: Timing | null) => (t ? range(t.wallMs) : '–');
const gpuMs = (t: Timing | null) => (t?.gpuMs ? range(t.gpuMs) : '–');

/** Speedups of several shapes together: total TF.js time over total time of ours. */
function aggregate(rows: KernelResult[], what: string, floor: number): Floor {
  const timed = rows.filter((r) => r.theirs);
  if (!timed.length) return { what, floor, measured: null, met: null };
  const ours = timed.reduce((s, r) => s + r.ours.wallMs.median, 0);
  const theirs = timed.reduce((s, r) => s + r.theirs!.wallMs.median, 0);
  const worst = timed.reduce((w, r) => (r.speedup! < w.speedup! ? r : w));
  const measured = theirs / ours;
  return { what, floor, measured, worst: { name: `${worst.config} ${worst.name}`.trim(), value: worst.speedup! }, met: measured >= floor };
}

/** Sums forward and both backward passes per shape before comparing. */
function trainingPasses(rows: KernelResult[]): Floor {
  const byShape = new Map<string, KernelResult[]>();
  for (const r of rows) {
    const key = `${r.config} ${r.name.replace(/ (fwd|bwd data|bwd weight)$/, '')}`;
    byShape.set(key, [...(byShape.get(key) ?? []), r]);
  }
  const merged: KernelResult[] = [...byShape.entries()]
    .filter(([, passes]) => passes.length === 3 && passes.every((p) => p.theirs))
    .map(([key, passes]) => {
      const sum = (pick: (p: KernelResult) => number) => passes.reduce((s, p) => s + pick(p), 0);
      const oursMs = sum((p) => p.ours.wallMs.median);
      const theirsMs = sum((p) => p.theirs!.wallMs.median);
      const one = (median: number): Timing => ({ wallMs: { median, min: median, max: median, runs: 1 }, gpuMs: null, kernels: [] });
      return { ...passes[0], config: '', name: key, ours: one(oursMs), theirs: one(theirsMs), speedup: theirsMs / oursMs };
    });
  return aggregate(merged, 'conv2d forward + both backward, all shapes', 3);
}

export function floors(kernels: KernelResult[], pcnn: PcnnResult[]): Floor[] {
  const conv = (group: KernelResult['group']) => kernels.filter((k) => k.group === group);
  const matmul1024 = kernels.filter((k) => k.group === 'matmul' && k.name.includes('1024x1024 · 1024x1024'));
  const out = [
    aggregate(matmul1024, 'matmul 1024^3', 3),
    aggregate(conv('conv2d forward').filter((k) => k.is3x3), 'conv2d forward, 3x3 shapes', 2),
    aggregate(conv('conv2d backward weight'), 'conv2d backward weight, all shapes', 5),
    trainingPasses(kernels.filter((k) => k.group.startsWith('conv2d'))),
  ];
  const step48 = pcnn.find((p) => p.config.size === 48);
  const stepS = step48 ? step48.train.wallMs.median / 1e3 : null;
  out.push({ what: 'PCNN train step 48/16/64, seconds (at most)', floor: 1, measured: stepS, met: stepS === null ? null : stepS <= 1 });
  return out;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Markdown table (for bench/RESULTS.md). */
export function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function kernelRows(r: Results): { header: string[]; rows: string[][] } {
  const header = ['case', 'ours wall ms', 'ours GPU ms', 'ours rate', '% ceiling', 'TF.js wall ms', 'TF.js rate', 'speedup'];
  const rows = r.kernels.map((k) => {
    const ceiling = k.unit === 'GFLOP/s' ? r.ceiling.matmul.gflops.median : r.ceiling.copy.gbps.median;
    return [
      `${k.config ? `${k.config} ` : ''}${k.name}`,
      ms(k.ours),
      gpuMs(k.ours),
      `${range(k.rate)} ${k.unit}`,
      `${((100 * k.rate.median) / ceiling).toFixed(0)}%`,
      ms(k.theirs),
      k.theirRate ? `${fixed(k.theirRate.median)} ${k.unit}` : (k.note ?? '–'),
      k.speedup === null ? '–' : `${k.speedup.toFixed(2)}x`,
    ];
  });
  return { header, rows };
}

export function pcnnRows(r: Results): { header: string[]; rows: string[][] } {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const header = ['config', 'params', 'train ms/step', 'train img/s', 'infer ms/batch', 'infer img/s', 'peak train', 'peak infer', 'vs PyTorch step'];
  const rows = r.pcnn.map((p) => [
    p.config.name,
    p.parameters.toLocaleString('en-US'),
    range(p.train.wallMs),
    fixed(p.trainImagesPerS.median),
    range(p.inference.wallMs),
    fixed(p.inferenceImagesPerS.median),
    mib(p.peakTrainBytes),
    mib(p.peakInferenceBytes),
    p.vsPytorch === null ? 'not timed' : `${p.vsPytorch.toFixed(1)}x slower (${p.config.pytorchStepS} s)`,
  ]);
  return { header, rows };
}

export function floorRows(r: Results): { header: string[]; rows: string[][] } {
  const header = ['floor', 'required', 'measured', 'weakest shape', 'met'];
  const rows = r.floors.map((f) => [
    f.what,
    f.what.startsWith('PCNN') ? `<= ${f.floor} s` : `>= ${f.floor}x`,
    f.measured === null ? '–' : f.what.startsWith('PCNN') ? `${f.measured.toFixed(2)} s` : `${f.measured.toFixed(2)}x`,
    f.worst ? `${f.worst.name}: ${f.worst.value.toFixed(2)}x` : '',
    f.met === null ? 'not measured' : f.met ? 'yes' : 'NO',
  ]);
  return { header, rows };
}

/** Where a training step's GPU time goes: the kernels that take most of it. */
export function stepBreakdown(r: Results, top = 8): string[] {
  return r.pcnn.flatMap((p) => {
    const total = p.train.kernels.reduce((sum, k) => sum + k.gpuMs, 0);
    if (!total) return [];
    const dispatches = p.train.kernels.reduce((sum, k) => sum + k.dispatches, 0);
    return [
      `  ${p.config.name} train step: GPU ${total.toFixed(0)} ms in ${dispatches.toFixed(0)} dispatches; largest:`,
      ...p.train.kernels
        .slice(0, top)
        .map((k) => `    ${k.kernel.padEnd(32)} ${k.gpuMs.toFixed(0).padStart(6)} ms ${((100 * k.gpuMs) / total).toFixed(0).padStart(3)}%  (${k.dispatches.toFixed(0)}x)`),
    ];
  });
}

export function ceilingLines(c: Ceiling): string[] {
  return [
    `matmul ${c.matmul.size}^3, best tuning ${c.matmul.tuning.variant} [${c.matmul.tuning.workgroup}]: ${range(c.matmul.gflops)} GFLOP/s ` +
      `(tried: ${Object.entries(c.matmulTried).map(([k, v]) => `${k} ${typeof v === 'number' ? fixed(v) : 'failed'}`).join(', ')})`,
    `compute-shader copy, ${c.copy.bytes / 2 ** 21} MiB each way: ${range(c.copy.gbps)} GB/s (read + write)`,
    `copyBufferToBuffer, same buffers: ${range(c.bufferCopy.gbps)} GB/s (wall time)`,
  ];
}

export function printResults(r: Results): void {
  const a = r.adapter;
  console.log(`\n${r.date}  adapter: ${a.vendor} / ${a.architecture} / ${a.device} (${a.description})`);
  console.log(`TF.js: ${r.tfjs.loaded ? `webgpu backend ${r.tfjs.version}` : `not loaded (${r.tfjs.error})`}; ${r.reps} reps, median [min–max]\n`);
  console.log('Ceiling of the adapter (rates from GPU timestamps):');
  for (const line of ceilingLines(r.ceiling)) console.log(`  ${line}`);
  const k = kernelRows(r);
  console.log(`\nKernels (speedup = TF.js wall / ours wall; rates from GPU time):\n${table(k.header, k.rows)}`);
  const p = pcnnRows(r);
  console.log(`\nPCNN end to end:\n${table(p.header, p.rows)}`);
  for (const s of r.pcnnSkipped) console.log(`  skipped ${s.name}: ${s.reason}`);
  for (const line of stepBreakdown(r)) console.log(line);
  const f = floorRows(r);
  console.log(`\nFloors:\n${table(f.header, f.rows)}`);
}

/** Labels in the chart font's characters (letters, digits, ` .-%:/()`). */
const chartLabel = (s: string) =>
  s.replace(/→/g, '-').replace(/·/g, 'x').replace(/@/g, 'at ').replace(/[^a-z0-9 .\-%:/()]/gi, ' ');

/** Writes the JSON and, when kernels were timed, the chart beside it; returns their paths. */
export function writeResults(r: Results, jsonPath: string): { json: string; png: string | null } {
  mkdirSync(path.dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(r, null, 2));
  if (!r.kernels.length) return { json: jsonPath, png: null };
  const png = jsonPath.replace(/\.json$/, '') + '.png';
  const categories = r.kernels.map((k) => chartLabel(`${k.config} ${k.name}`.trim()));
  const chart = barChart(
    `ours vs tf.js webgpu, ${chartLabel(r.adapter.device)}, ${r.date.slice(0, 10)}`,
    'gflop/s or gb/s (gpu time)',
    categories,
    [
      { name: 'ours', values: r.kernels.map((k) => k.rate.median) },
      { name: 'tf.js webgpu', values: r.kernels.map((k) => k.theirRate?.median ?? null) },
    ],
  );
  writeFileSync(png, chart);
  return { json: jsonPath, png };
}
